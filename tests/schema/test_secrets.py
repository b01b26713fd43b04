"""Encryption at rest and key rotation."""

from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from schema.queries.encrypted import encrypted_columns, rotate_encrypted_columns
from schema.queries.shops import insert_shop, upsert_app
from schema.secrets import SecretBox, SecretDecryptError, load_or_create_key_file


def test_secret_box_round_trips_and_hides_the_plaintext() -> None:
    box = SecretBox([Fernet.generate_key().decode()])
    token = box.encrypt("shpat_abc")
    assert b"shpat_abc" not in token
    assert box.decrypt(token) == "shpat_abc"


def test_a_foreign_key_cannot_decrypt() -> None:
    token = SecretBox([Fernet.generate_key().decode()]).encrypt("x")
    with pytest.raises(SecretDecryptError, match="encryption key"):
        SecretBox([Fernet.generate_key().decode()]).decrypt(token)


def test_key_file_is_created_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "secret.key"
    first = load_or_create_key_file(path)
    assert load_or_create_key_file(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


async def test_rotation_reencrypts_every_enc_column(pool: asyncpg.Pool) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old = SecretBox([old_key])
    async with pool.acquire() as connection:
        app_id = await upsert_app(
            connection, name="a", kind="legacy", client_id=None, client_secret_enc=old.encrypt("s")
        )
        await insert_shop(
            connection, domain="r.myshopify.com", app_id=app_id, access_token_enc=old.encrypt("t")
        )
        columns = await encrypted_columns(connection)
        assert ("shop", "access_token_enc") in columns
        assert ("app", "client_secret_enc") in columns
        rotated = await rotate_encrypted_columns(connection, SecretBox([new_key, old_key]))
        assert rotated == 2
        row = await connection.fetchrow(
            "SELECT s.access_token_enc, a.client_secret_enc FROM shop s JOIN app a USING (app_id)"
        )
    assert row is not None
    only_new = SecretBox([new_key])
    assert only_new.decrypt(row["access_token_enc"]) == "t"
    assert only_new.decrypt(row["client_secret_enc"]) == "s"
