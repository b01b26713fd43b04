"""Values the database refuses are the request's fault: 4xx with a message, never a 500."""

import httpx


async def test_unknown_shop_reference_is_a_404(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/supplier-accounts",
        headers=admin_headers,
        json={"kind": "cj", "name": "cj-main", "shop_ids": [987654321]},
    )
    assert response.status_code == 404, response.text
    assert "987654321" in response.json()["detail"]


async def test_integer_beyond_64_bits_is_a_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/supplier-accounts",
        headers=admin_headers,
        json={"kind": "cj", "name": "cj-big", "shop_ids": [2**70]},
    )
    assert response.status_code == 422, response.text


async def test_nul_byte_in_text_is_a_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    response = await client.post(
        "/supplier-accounts", headers=admin_headers, json={"kind": "cj", "name": "nul\u0000name"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_value"
