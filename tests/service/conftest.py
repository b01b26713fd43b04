"""Fixtures for tests that run the `dropsync` command in a subprocess."""

from pathlib import Path

import pytest

from service.settings import Settings


@pytest.fixture
def env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    """The environment a `dropsync` subprocess needs to use this test run's servers."""
    assert settings.database_url is not None
    assert settings.redis_url is not None
    assert settings.secret_keys is not None
    return {
        "DROPSYNC_DATABASE_URL": settings.database_url,
        "DROPSYNC_REDIS_URL": settings.redis_url,
        "DROPSYNC_SECRET_KEYS": settings.secret_keys.get_secret_value(),
        "DROPSYNC_DATA_DIR": str(tmp_path),
        # The run's own queue: jobs the commands enqueue never reach another deployment's.
        "DROPSYNC_QUEUE_NAME": settings.queue_name,
        "DROPSYNC_PUBLIC_URL": settings.public_url or "",
    }
