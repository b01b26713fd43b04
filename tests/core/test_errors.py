"""Tests for core.errors: the hierarchy callers catch on."""

from __future__ import annotations

from core import errors


def test_every_error_derives_from_dropsync_error() -> None:
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.DropsyncError)


def test_payload_error_message_names_the_field() -> None:
    error = errors.PayloadError("expected an integer", field="line_items[0].quantity")
    assert str(error) == "line_items[0].quantity: expected an integer"
    assert error.problem == "expected an integer"
    assert isinstance(error, ValueError)


def test_payload_error_without_field_is_the_bare_problem() -> None:
    assert str(errors.PayloadError("body is empty")) == "body is empty"


def test_remote_errors_carry_retry_and_user_errors() -> None:
    throttled = errors.RemoteThrottled("slow down", retry_after=2.0)
    assert isinstance(throttled, errors.RemoteUnavailable)
    assert throttled.retry_after == 2.0
    rejected = errors.RemoteRejected("nope", user_errors=["Invalid quantity"])
    assert rejected.user_errors == ("Invalid quantity",)


def test_signature_errors_are_invalid_webhooks() -> None:
    for kind in (
        errors.SignatureMismatch,
        errors.SignatureExpired,
        errors.MalformedSignature,
    ):
        assert issubclass(kind, errors.InvalidWebhook)
