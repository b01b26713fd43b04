"""Public-app installs: Shopify's install request and the OAuth callback.

Both authenticate by the query's HMAC (keyed by the public app's client secret), not an API
token. Install answers with a redirect to Shopify's authorize page carrying a single-use state
nonce; the callback checks state, HMAC and shop, exchanges the code for an offline token and
starts the connect job.
"""

import html
import secrets as random_secrets
from datetime import UTC, datetime

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from clients.shopify_oauth import OAuthError, TokenRejectedError, authorize_url, exchange_code
from schema.queries.connect import (
    consume_oauth_state,
    insert_oauth_state,
    mark_shop_needs_attention,
)
from schema.queries.shops import get_shop_by_domain, insert_shop, upsert_app
from service.connect import complete_connection, request_connect, required_scopes
from service.errors import ApiError
from service.oauth_query import verify_oauth_query
from service.runtime import Resources
from service.settings import Settings
from service.shops import AppKind, validate_shop_domain

__all__ = ["router"]

log = structlog.get_logger()

router = APIRouter(prefix="/shopify", tags=["oauth"])


def _public_app(settings: Settings) -> tuple[str, str, str]:
    """(client id, client secret, public URL), or 503 when the public app is not configured."""
    secret = settings.shopify_app_client_secret
    if not settings.shopify_app_client_id or secret is None or not settings.public_url:
        raise ApiError(
            503,
            "public_app_not_configured",
            "set DROPSYNC_SHOPIFY_APP_CLIENT_ID, DROPSYNC_SHOPIFY_APP_CLIENT_SECRET and "
            "DROPSYNC_PUBLIC_URL to install through OAuth",
        )
    return settings.shopify_app_client_id, secret.get_secret_value(), settings.public_url


def _verified_shop(request: Request, settings: Settings, client_secret: str) -> str:
    pairs = list(request.query_params.multi_items())
    try:
        shop = validate_shop_domain(request.query_params.get("shop", ""))
    except ValueError as error:
        raise ApiError(400, "invalid_shop", str(error)) from error
    problem = verify_oauth_query(
        pairs,
        secrets=[client_secret],
        now=datetime.now(UTC),
        tolerance=settings.oauth_clock_tolerance,
    )
    if problem is not None:
        log.warning("oauth.query_rejected", shop=shop, reason=problem)
        raise ApiError(401, "invalid_hmac", problem)
    return shop


@router.get("/install", summary="Start a public-app install (Shopify's App URL)")
async def install(request: Request) -> RedirectResponse:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    client_id, client_secret, public_url = _public_app(settings)
    shop = _verified_shop(request, settings, client_secret)
    scopes = required_scopes(backfill_days=settings.backfill_days)
    nonce = random_secrets.token_urlsafe(24)
    async with resources.pool.acquire() as connection:
        await insert_oauth_state(
            connection,
            nonce=nonce,
            shop_domain=shop,
            scopes=",".join(scopes),
            expires_at=datetime.now(UTC) + settings.oauth_state_ttl,
        )
    target = authorize_url(
        settings.shopify_oauth_url_template,
        shop=shop,
        client_id=client_id,
        scopes=scopes,
        redirect_uri=public_url.rstrip("/") + "/shopify/callback",
        state=nonce,
    )
    log.info("oauth.install_started", shop=shop)
    return RedirectResponse(target, status_code=302)


@router.get("/callback", summary="Finish a public-app install (OAuth redirect URI)")
async def callback(request: Request) -> HTMLResponse:
    resources: Resources = request.app.state.resources
    settings = resources.runtime.settings
    client_id, client_secret, _ = _public_app(settings)
    shop = _verified_shop(request, settings, client_secret)
    code = request.query_params.get("code", "")
    state = request.query_params.get("state", "")
    if not code or not state:
        raise ApiError(400, "invalid_callback", "the callback needs code and state")
    now = datetime.now(UTC)
    async with resources.pool.acquire() as connection:
        scopes = await consume_oauth_state(connection, nonce=state, shop_domain=shop, now=now)
    if scopes is None:
        raise ApiError(
            400, "invalid_state", "the state is unknown, expired or already used: install again"
        )
    try:
        grant = await exchange_code(
            resources.http,
            url_template=settings.shopify_oauth_url_template,
            shop=shop,
            client_id=client_id,
            client_secret=client_secret,
            code=code,
            expiring=settings.shopify_expiring_tokens,
            now=now,
        )
    except TokenRejectedError as error:
        raise ApiError(400, "code_rejected", str(error)) from error
    except OAuthError as error:
        raise ApiError(502, "shopify_unavailable", str(error)) from error
    secrets = resources.runtime.secrets
    async with resources.pool.acquire() as connection:
        async with connection.transaction():
            app_id = await upsert_app(
                connection,
                name=settings.shopify_app_name,
                kind=AppKind.PUBLIC.value,
                client_id=client_id,
                client_secret_enc=secrets.encrypt(client_secret),
            )
            existing = await get_shop_by_domain(connection, shop)
            record = await insert_shop(
                connection,
                domain=shop,
                app_id=app_id,
                access_token_enc=secrets.encrypt(grant.access_token),
                plan=existing.plan if existing else "standard",
                timezone=existing.timezone if existing else "UTC",
            )
        record = await complete_connection(
            connection,
            secrets,
            shop=record,
            grant=grant,
            backfill_days=settings.backfill_days,
            now=now,
        )
        missing = sorted(set(scopes.split(",")) - set(grant.scope.split(",")))
        if missing:
            await mark_shop_needs_attention(
                connection,
                shop_id=record.shop_id,
                reason="Shopify granted fewer scopes than dropsync needs: " + ", ".join(missing),
            )
    await request_connect(resources.redis, queue_name=settings.queue_name, shop_id=record.shop_id)
    log.info("oauth.installed", shop_id=record.shop_id, shop=shop, expiring=grant.expires_at)
    return HTMLResponse(
        "<!doctype html><title>dropsync connected</title>"
        f"<p>dropsync is connected to {html.escape(shop)}. Its recent orders are being read "
        "now; follow progress with <code>dropsync shops sync</code>.</p>"
    )
