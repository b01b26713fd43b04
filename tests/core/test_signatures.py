"""Tests for core.signatures: Shopify HMAC, OAuth query HMAC, Standard Webhooks."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import (
    ConfigurationError,
    MalformedSignature,
    SignatureExpired,
    SignatureMismatch,
)
from core.signatures import (
    is_oauth_timestamp_fresh,
    oauth_query_message,
    shopify_hmac,
    sign_oauth_query,
    sign_standard_webhook,
    verify_oauth_query,
    verify_shopify_hmac,
    verify_standard_webhook,
)

# Published Standard Webhooks / Svix test vector.
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SW_NOW = datetime.fromtimestamp(SW_TS, tz=UTC)


def test_standard_webhook_signature_matches_published_vector() -> None:
    assert (
        sign_standard_webhook(secret=SW_SECRET, msg_id=SW_ID, timestamp=SW_TS, body=SW_BODY)
        == SW_SIGNATURE
    )


def _verify(**overrides: object) -> None:
    arguments: dict[str, object] = {
        "secrets": [SW_SECRET],
        "msg_id": SW_ID,
        "timestamp": str(SW_TS),
        "body": SW_BODY,
        "signature_header": SW_SIGNATURE,
        "now": SW_NOW,
    }
    arguments.update(overrides)
    verify_standard_webhook(**arguments)  # type: ignore[arg-type]


def test_standard_webhook_accepts_valid_delivery_among_several_signatures() -> None:
    _verify(signature_header=f"v1a,xyz v1,bm90LWl0 {SW_SIGNATURE} v2,abc")
    _verify(secrets=["whsec_" + base64.b64encode(b"old").decode(), SW_SECRET])
    _verify(now=SW_NOW + timedelta(minutes=5))
    _verify(now=SW_NOW - timedelta(minutes=5))


def test_standard_webhook_rejects_tampered_body() -> None:
    with pytest.raises(SignatureMismatch):
        _verify(body=SW_BODY + b" ")


def test_standard_webhook_rejects_other_message_id() -> None:
    with pytest.raises(SignatureMismatch):
        _verify(msg_id="msg_other")


def test_standard_webhook_rejects_stale_and_future_timestamps() -> None:
    with pytest.raises(SignatureExpired, match="at most 300 s"):
        _verify(now=SW_NOW + timedelta(minutes=5, seconds=1))
    with pytest.raises(SignatureExpired):
        _verify(now=SW_NOW - timedelta(minutes=6))
    _verify(now=SW_NOW + timedelta(minutes=9), tolerance=timedelta(minutes=10))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"timestamp": "16142653.30"}, "not a Unix time"),
        ({"timestamp": ""}, "not a Unix time"),
        ({"msg_id": " "}, "webhook-id header is empty"),
        ({"signature_header": ""}, "no valid v1 signature"),
        ({"signature_header": "v1,***"}, "no valid v1 signature"),
        ({"signature_header": "v1a,abc"}, "no valid v1 signature"),
    ],
)
def test_standard_webhook_rejects_malformed_headers(
    overrides: dict[str, object], fragment: str
) -> None:
    with pytest.raises(MalformedSignature, match=fragment):
        _verify(**overrides)


@pytest.mark.parametrize(
    ("secrets", "fragment"),
    [
        ([], "no signing secret"),
        (["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"], "must start with 'whsec_'"),
        (["whsec_not base64!"], "followed by base64"),
        (["whsec_"], "is empty"),
    ],
)
def test_standard_webhook_rejects_bad_secrets(secrets: list[str], fragment: str) -> None:
    with pytest.raises(ConfigurationError, match=fragment):
        _verify(secrets=secrets)


@given(body=st.binary(max_size=200), key=st.binary(min_size=1, max_size=32))
def test_standard_webhook_round_trip(body: bytes, key: bytes) -> None:
    secret = "whsec_" + base64.b64encode(key).decode()
    header = sign_standard_webhook(secret=secret, msg_id="m1", timestamp=SW_TS, body=body)
    verify_standard_webhook(
        secrets=[secret],
        msg_id="m1",
        timestamp=str(SW_TS),
        body=body,
        signature_header=header,
        now=SW_NOW,
    )


def test_shopify_hmac_accepts_any_rotated_secret() -> None:
    body = b'{"id": 1}'
    header = shopify_hmac(body, "new-secret")
    assert verify_shopify_hmac(body, header, ["old-secret", b"new-secret"])
    assert verify_shopify_hmac(body, f" {header} ", ["new-secret"])


def test_shopify_hmac_rejects_wrong_secret_body_or_garbage() -> None:
    body = b'{"id": 1}'
    header = shopify_hmac(body, "secret")
    assert not verify_shopify_hmac(body, header, ["other"])
    assert not verify_shopify_hmac(body + b" ", header, ["secret"])
    assert not verify_shopify_hmac(body, "not base64!", ["secret"])
    assert not verify_shopify_hmac(body, header.encode().hex(), ["secret"])


def test_shopify_hmac_without_secrets_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        verify_shopify_hmac(b"", "", [])


@given(body=st.binary(max_size=300), secret=st.text(min_size=1, max_size=20))
def test_shopify_hmac_round_trip(body: bytes, secret: str) -> None:
    assert verify_shopify_hmac(body, shopify_hmac(body, secret), [secret])


# Shopify's documented OAuth example (secret "hush").
OAUTH_PARAMS = {
    "code": "0907a61c0c8d55e99db179b68161bc00",
    "shop": "some-shop.myshopify.com",
    "state": "0.6784241404160823",
    "timestamp": "1337178173",
    "hmac": "700e2dadb827fcc8609e9d5ce208b2e9cdaab9df07390d2cbca10d7c328fc4bf",
}


def test_oauth_query_matches_shopify_documented_example() -> None:
    assert verify_oauth_query(OAUTH_PARAMS, "hush")
    assert verify_oauth_query(list(reversed(OAUTH_PARAMS.items())), b"hush")


def test_oauth_query_rejects_tampering_and_missing_hmac() -> None:
    assert not verify_oauth_query({**OAUTH_PARAMS, "shop": "evil.myshopify.com"}, "hush")
    assert not verify_oauth_query({**OAUTH_PARAMS, "hmac": "00"}, "hush")
    without = {k: v for k, v in OAUTH_PARAMS.items() if k != "hmac"}
    assert not verify_oauth_query(without, "hush")
    assert not verify_oauth_query([*OAUTH_PARAMS.items(), ("hmac", "x")], "hush")


def test_oauth_message_escapes_and_joins_arrays() -> None:
    params = [
        ("b", "x&y%"),
        ("a=b", "1"),
        ("ids[]", "2"),
        ("ids[]", "1"),
        ("signature", "s"),
        ("dup", "1"),
        ("dup", "2"),
    ]
    assert oauth_query_message(params) == 'a%3Db=1&b=x%26y%25&dup=["1", "2"]&ids=["2", "1"]'
    signed = [*params, ("hmac", sign_oauth_query(params, "k"))]
    assert verify_oauth_query(signed, "k")


def test_oauth_timestamp_freshness() -> None:
    now = datetime.fromtimestamp(1337178173, tz=UTC)
    assert is_oauth_timestamp_fresh(OAUTH_PARAMS, now=now + timedelta(seconds=90))
    assert not is_oauth_timestamp_fresh(OAUTH_PARAMS, now=now + timedelta(seconds=91))
    assert not is_oauth_timestamp_fresh({"timestamp": "soon"}, now=now)
    assert not is_oauth_timestamp_fresh({}, now=now)
