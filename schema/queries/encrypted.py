"""Re-encrypting every secret at rest with the current first key (key rotation).

Encrypted columns are found by convention, not listed: any `bytea` column whose name ends in
`_enc`. A table added later is rotated without touching this module.
"""

from schema.db import Connection
from schema.secrets import SecretBox

__all__ = ["encrypted_columns", "rotate_encrypted_columns"]


async def encrypted_columns(connection: Connection) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        """
        SELECT table_name, column_name FROM information_schema.columns
        WHERE table_schema = 'public' AND data_type = 'bytea' AND column_name LIKE '%\\_enc'
        ORDER BY table_name, column_name
        """
    )
    return [(row["table_name"], row["column_name"]) for row in rows]


async def rotate_encrypted_columns(connection: Connection, secrets: SecretBox) -> int:
    """Re-encrypt every stored secret with the first key, in one transaction; returns a count."""
    rotated = 0
    async with connection.transaction():
        for table, column in await encrypted_columns(connection):
            rows = await connection.fetch(
                f'SELECT ctid AS row_id, "{column}" AS value FROM "{table}"'
                f' WHERE "{column}" IS NOT NULL FOR UPDATE'
            )
            updates = [(secrets.rotate(row["value"]), row["row_id"]) for row in rows]
            await connection.executemany(
                f'UPDATE "{table}" SET "{column}" = $1 WHERE ctid = $2', updates
            )
            rotated += len(updates)
    return rotated
