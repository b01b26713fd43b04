"""Registering shops: validation, encryption at rest, removal."""

import asyncpg
import httpx

from service.runtime import Runtime

_SECRETS = ("shpss_client_secret_value_42", "shpat_access_token_value_42")


async def _register(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/shops",
        headers=headers,
        json={
            "domain": "Acme-Store.myshopify.com",
            "kind": "legacy",
            "client_secret": _SECRETS[0],
            "access_token": _SECRETS[1],
            "timezone": "Europe/Paris",
        },
    )


async def test_register_shop_normalises_the_domain(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await _register(client, admin_headers)
    assert response.status_code == 201
    body = response.json()
    assert body["domain"] == "acme-store.myshopify.com"
    assert body["has_access_token"] is True
    assert body["status"] == "active"


async def test_no_secret_is_stored_in_clear(
    pool: asyncpg.Pool,
    runtime: Runtime,
    client: httpx.AsyncClient,
    admin_headers: dict[str, str],
) -> None:
    assert (await _register(client, admin_headers)).status_code == 201
    # A dump of every table, as text: bytea shows as hex, so look for both spellings.
    async with pool.acquire() as connection:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        )
        dump: list[str] = []
        for row in tables:
            rows = await connection.fetch(f'SELECT t::text AS line FROM "{row["tablename"]}" t')
            dump.extend(r["line"] for r in rows)
        stored = await connection.fetchrow(
            "SELECT s.access_token_enc, a.client_secret_enc FROM shop s JOIN app a USING (app_id)"
        )
    text = "\n".join(dump)
    for secret in _SECRETS:
        assert secret not in text
        assert secret.encode().hex() not in text
    assert stored is not None
    assert runtime.secrets.decrypt(stored["access_token_enc"]) == _SECRETS[1]
    assert runtime.secrets.decrypt(stored["client_secret_enc"]) == _SECRETS[0]


async def test_register_rejects_a_domain_that_is_not_myshopify(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/shops",
        headers=admin_headers,
        json={"domain": "evil.com", "kind": "legacy", "client_secret": "s", "access_token": "t"},
    )
    assert response.status_code == 422
    assert "myshopify.com" in response.json()["detail"]


async def test_legacy_shop_needs_an_access_token(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/shops",
        headers=admin_headers,
        json={"domain": "a.myshopify.com", "kind": "legacy", "client_secret": "s"},
    )
    assert response.status_code == 422
    assert "access_token" in response.json()["detail"]


async def test_remove_shop_erases_it(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    shop_id = (await _register(client, admin_headers)).json()["shop_id"]
    assert (await client.delete(f"/shops/{shop_id}", headers=admin_headers)).status_code == 204
    assert (await client.get(f"/shops/{shop_id}", headers=admin_headers)).status_code == 404
    assert (await client.delete(f"/shops/{shop_id}", headers=admin_headers)).status_code == 404


async def test_malformed_json_is_a_clear_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/shops",
        headers={**admin_headers, "content-type": "application/json"},
        content=b"{not json",
    )
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
