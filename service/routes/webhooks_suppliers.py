"""`POST /webhooks/suppliers/{account_id}`: authenticate, store durably, then answer.

- CJdropshipping and AliExpress sign nothing we can rely on: the account's URL carries a secret
  token (`?token=`), compared in constant time with its stored hash. CJ messages are deduplicated
  on `messageId` and answered in CJ's shape, `{"code": 200, "result": "success", ...}`.
- The generic format is verified per Standard Webhooks (`webhook-id`, `webhook-timestamp`,
  `webhook-signature`, five minutes of tolerance, several secrets for rotation) and deduplicated
  on `webhook-id`.

Unknown account: 404. Missing or wrong token or signature: 401. Body over the cap: 413. An
authentic message that does not parse is stored anyway and parked as failed (visible in the
deliveries API). The answer follows the commit; database trouble answers 503 so the sender
retries.
"""

import asyncio
import hashlib
import hmac
from datetime import UTC, datetime

import orjson
import structlog
from fastapi import APIRouter, Request
from starlette.responses import Response

from core.errors import ConfigurationError, InvalidWebhook, PayloadError
from core.supplier_events import parse_aliexpress_push, verify_standard_webhook
from schema.queries.inbox import DeliveryStatus, NewSupplierDelivery
from service.errors import error_response
from service.ingest.account_cache import EdgeAccount
from service.ingest.body import read_body_or_error
from service.ingest.edge import ingest_edge
from service.routes.webhooks_shopify import header_map
from service.runtime import Resources

__all__ = ["router"]

log = structlog.get_logger()

router = APIRouter(tags=["webhooks"])

_CJ_ACCEPTED = Response(
    content=b'{"code":200,"result":"success","message":"received"}',
    media_type="application/json",
)
_ACCEPTED = Response(content=b'{"ok":true}', media_type="application/json")
_KEPT = ("content-type", "user-agent", "webhook-id", "webhook-timestamp")


def _sha256_key(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _token_problem(request: Request, account: EdgeAccount) -> Response | None:
    token = request.query_params.get("token")
    if not token:
        return error_response(
            401, "missing_token", "this account's webhook URL carries ?token=<its token>"
        )
    expected = account.webhook_token_hash or ""
    given = hashlib.sha256(token.encode()).hexdigest()
    if not hmac.compare_digest(given, expected):
        return error_response(401, "invalid_token", "the token does not match this account")
    return None


def _signature_problem(
    headers: dict[str, str], account: EdgeAccount, body: bytes
) -> Response | None:
    try:
        verify_standard_webhook(
            secrets=list(account.webhook_secrets),
            msg_id=headers.get("webhook-id", ""),
            timestamp=headers.get("webhook-timestamp", ""),
            body=body,
            signature_header=headers.get("webhook-signature", ""),
            now=datetime.now(UTC),
        )
    except InvalidWebhook as error:
        return error_response(401, "invalid_signature", str(error))
    except ConfigurationError as error:
        log.warning("supplier.webhook_secret_unusable", account_id=account.account_id)
        return error_response(401, "invalid_signature", f"cannot verify: {error}")
    return None


def _cj_delivery(account: EdgeAccount, body: bytes, headers: dict[str, str]) -> NewSupplierDelivery:
    problem: str | None = None
    envelope: object = None
    try:
        envelope = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        problem = f"body is not JSON: {error}"
    message_id = envelope.get("messageId") if isinstance(envelope, dict) else None
    if isinstance(message_id, str | int) and str(message_id).strip():
        key = f"cj:{str(message_id).strip()}"
    else:
        key = _sha256_key(body)
        problem = problem or "not a CJ message: no messageId"
    return NewSupplierDelivery(
        account_id=account.account_id,
        dedup_key=key,
        kind=account.kind,
        headers=headers,
        body=body,
        status=DeliveryStatus.FAILED if problem else DeliveryStatus.PENDING,
        error=problem,
    )


def _aliexpress_delivery(
    account: EdgeAccount, body: bytes, headers: dict[str, str]
) -> NewSupplierDelivery:
    try:
        parsed = parse_aliexpress_push(body)
    except PayloadError as error:
        return NewSupplierDelivery(
            account_id=account.account_id,
            dedup_key=_sha256_key(body),
            kind=account.kind,
            headers=headers,
            body=body,
            status=DeliveryStatus.FAILED,
            error=f"payload does not parse: {error}",
        )
    return NewSupplierDelivery(
        account_id=account.account_id,
        dedup_key=parsed.dedup_key or _sha256_key(body),
        kind=account.kind,
        headers=headers,
        body=body,
    )


@router.post(
    "/webhooks/suppliers/{account_id}",
    summary="Receive a supplier webhook (CJ, AliExpress or the generic signed format)",
    response_class=Response,
)
async def receive_supplier_webhook(account_id: str, request: Request) -> Response:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    if not account_id.isdigit() or len(account_id) > 18:
        return error_response(404, "unknown_account", f"no supplier account {account_id!r}")
    body = await read_body_or_error(request, limit=settings.webhook_max_body_bytes)
    if isinstance(body, Response):
        return body
    edge = ingest_edge(request.app.state, resources)
    try:
        async with asyncio.timeout(settings.db_timeout.total_seconds()):
            account = await edge.accounts.lookup(int(account_id))
            if account is None:
                return error_response(
                    404, "unknown_account", f"no active supplier account {account_id}"
                )
            headers = header_map(request)
            if account.kind == "generic":
                problem = _signature_problem(headers, account, body)
            else:
                problem = _token_problem(request, account)
            if problem is not None:
                log.info("supplier.webhook_refused", account_id=account.account_id)
                return problem
            kept = {name: headers[name] for name in _KEPT if name in headers}
            if account.kind == "cj":
                delivery = _cj_delivery(account, body, kept)
            elif account.kind == "aliexpress":
                delivery = _aliexpress_delivery(account, body, kept)
            else:
                delivery = NewSupplierDelivery(
                    account_id=account.account_id,
                    dedup_key="generic:" + headers["webhook-id"].strip(),
                    kind=account.kind,
                    headers=kept,
                    body=body,
                )
            await edge.supplier_inbox.write(delivery)
    except Exception as error:  # noqa: BLE001  (storage trouble of any kind: make the sender retry)
        log.warning("supplier.store_failed", account_id=account_id, error=repr(error))
        return error_response(
            503,
            "storage_unavailable",
            "the delivery could not be stored right now; retry later",
            headers={"Retry-After": "5"},
        )
    return _CJ_ACCEPTED if account.kind == "cj" else _ACCEPTED
