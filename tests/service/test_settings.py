"""Settings parse strictly, and their documentation is generated from them."""

import pytest
from pydantic import ValidationError

from service import settings_doc
from service.settings import Settings


def test_docs_and_env_example_are_current() -> None:
    assert settings_doc.main() == 0, "run: python -m service.settings_doc --write"


def test_every_setting_is_described() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("database_url", "mysql://x", "postgresql://"),
        ("redis_url", "http://x", "redis://"),
        ("shopify_graphql_url_template", "https://x/graphql.json", "{shop}"),
        ("port", "0", "greater than or equal to 1"),
    ],
)
def test_invalid_values_name_the_problem(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=field) as caught:
        Settings(**{field: value}, _env_file=None)  # type: ignore[arg-type]
    assert message in str(caught.value)


def test_a_full_pass_wider_than_the_pool_is_refused() -> None:
    with pytest.raises(ValidationError, match="must not exceed db_pool_max"):
        Settings(classify_full_pass_concurrency=4, db_pool_max=3, _env_file=None)
    at_the_edge = Settings(classify_full_pass_concurrency=3, db_pool_max=3, _env_file=None)
    assert at_the_edge.classify_full_pass_concurrency == 3


def test_env_variables_use_the_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DROPSYNC_PORT", "9001")
    monkeypatch.setenv("DROPSYNC_DB_TIMEOUT", "PT5S")
    settings = Settings(_env_file=None)
    assert settings.port == 9001
    assert settings.db_timeout.total_seconds() == 5
