"""One order, both sides, and its timeline: deliveries, polls, pushes and resolutions."""

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request

from schema.queries.report import ReportFilter, mismatch_rows_sql
from service.auth import PrincipalDep
from service.errors import ApiError
from service.report_rows import render_row, utc_iso
from service.responses import JsonResponse
from service.runtime import Resources

__all__ = ["router"]

router = APIRouter(prefix="/orders", tags=["orders"])

_SIDES = """
SELECT o.shop_id, o.order_id, o.name, o.financial_status, o.fulfillment_status,
       o.created_at, o.updated_at, o.cancelled_at, o.closed_at, o.test,
       sh.domain, sh.timezone,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
           'line_item_id', li.line_item_id, 'sku', li.sku, 'title', li.title,
           'quantity', li.quantity, 'fulfillable_quantity', li.fulfillable_quantity)
           ORDER BY li.line_item_id)
        FROM shopify_line_item li
        WHERE li.shop_id = o.shop_id AND li.order_id = o.order_id), '[]'::jsonb) AS line_items,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
           'fulfillment_order_id', fo.fulfillment_order_id, 'status', fo.status,
           'request_status', fo.request_status, 'location_id', fo.location_id,
           'supported_actions', fo.supported_actions, 'holds', fo.holds,
           'updated_at', fo.updated_at) ORDER BY fo.fulfillment_order_id)
        FROM shopify_fulfillment_order fo
        WHERE fo.shop_id = o.shop_id AND fo.order_id = o.order_id), '[]'::jsonb)
           AS fulfillment_orders,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
           'fulfillment_id', f.fulfillment_id, 'status', f.status,
           'tracking_company', f.tracking_company, 'tracking_numbers', f.tracking_numbers,
           'tracking_urls', f.tracking_urls, 'created_at', f.created_at)
           ORDER BY f.fulfillment_id)
        FROM shopify_fulfillment f
        WHERE f.shop_id = o.shop_id AND f.order_id = o.order_id), '[]'::jsonb) AS fulfillments,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
           'supplier_order_id', s.supplier_order_id, 'account_id', s.account_id,
           'supplier', a.kind, 'account', a.name, 'external_id', s.external_id,
           'reference', s.reference, 'status', s.status, 'placed_at', s.placed_at,
           'updated_at', s.updated_at,
           'packages', coalesce((SELECT jsonb_agg(jsonb_build_object(
               'package_id', p.package_id, 'tracking_number', p.tracking_number,
               'carrier', p.carrier, 'tracking_url', p.tracking_url,
               'shipped_at', p.shipped_at, 'tracking_status', p.tracking_status,
               'last_event_at', p.last_event_at, 'last_event', p.last_event,
               'superseded_at', p.superseded_at) ORDER BY p.package_id)
            FROM package p
            WHERE p.shop_id = s.shop_id AND p.supplier_order_id = s.supplier_order_id),
            '[]'::jsonb)) ORDER BY s.supplier_order_id)
        FROM supplier_order s JOIN supplier_account a ON a.account_id = s.account_id
        WHERE s.shop_id = o.shop_id AND s.shopify_order_id = o.order_id), '[]'::jsonb)
           AS supplier_orders
FROM shopify_order o JOIN shop sh ON sh.shop_id = o.shop_id
WHERE o.shop_id = $1 AND o.order_id = $2
"""

# Every source of the timeline as (at, kind, actor, detail), newest last.
_TIMELINE = """
SELECT at, kind, actor, detail FROM (
    SELECT e.at, e.kind, e.actor, e.detail
    FROM order_event e
    WHERE e.shop_id = $1 AND (e.order_id = $2 OR e.supplier_order_id IN (
        SELECT supplier_order_id FROM supplier_order
        WHERE shop_id = $1 AND shopify_order_id = $2))
    UNION ALL
    SELECT p.created_at, 'push.' || p.kind || '.queued', 'worker',
           jsonb_build_object('push_id', p.push_id, 'package_ids', p.package_ids)
    FROM push p WHERE p.shop_id = $1 AND p.order_id = $2
    UNION ALL
    SELECT coalesce(p.completed_at, p.updated_at), 'push.' || p.status, 'worker',
           jsonb_build_object('push_id', p.push_id, 'attempts', p.attempts,
                              'fulfillment_id', p.fulfillment_id, 'error', p.last_error)
    FROM push p WHERE p.shop_id = $1 AND p.order_id = $2 AND p.status <> 'pending'
) t
ORDER BY at, kind
"""


@router.get("/{shop_id}/{order_id}", summary="An order's two sides, open mismatches and timeline")
async def read_order(
    shop_id: int, order_id: int, request: Request, principal: PrincipalDep
) -> JsonResponse:
    principal.require_shop(shop_id)
    resources: Resources = request.app.state.resources
    as_of = datetime.now(UTC)
    settings = resources.runtime.settings
    from core.report_classes import AgeBuckets  # noqa: PLC0415  (keeps the route module light)

    sql, args = mismatch_rows_sql(
        ReportFilter(shop_ids=[shop_id], order_id=order_id, outcomes=("break", "pending")),
        as_of=as_of,
        priority_step=settings.report_priority_step,
        buckets=AgeBuckets(tuple(settings.report_age_buckets)),
        after=None,
        limit=None,
        with_sides=False,
    )
    async with resources.pool.acquire() as connection:
        order = await connection.fetchrow(_SIDES, shop_id, order_id)
        if order is None:
            raise ApiError(404, "order_not_found", f"no order {order_id} in shop {shop_id}")
        mismatches = await connection.fetch(sql, *args)
        timeline = await connection.fetch(_TIMELINE, shop_id, order_id)
    return JsonResponse(
        {
            "shop": {"shop_id": shop_id, "domain": order["domain"], "timezone": order["timezone"]},
            "shopify": {
                "order_id": order["order_id"],
                "name": order["name"],
                "financial_status": order["financial_status"],
                "fulfillment_status": order["fulfillment_status"],
                "created_at": utc_iso(order["created_at"]),
                "updated_at": utc_iso(order["updated_at"]),
                "cancelled_at": utc_iso(order["cancelled_at"]),
                "closed_at": utc_iso(order["closed_at"]),
                "test": order["test"],
                "line_items": order["line_items"],
                "fulfillment_orders": order["fulfillment_orders"],
                "fulfillments": order["fulfillments"],
            },
            "supplier_orders": order["supplier_orders"],
            "mismatches": [render_row(row, as_of=as_of) for row in mismatches],
            "timeline": [_event(row) for row in timeline],
        }
    )


def _event(row: Any) -> dict[str, Any]:
    return {
        "at": utc_iso(row["at"]),
        "kind": row["kind"],
        "actor": row["actor"],
        "detail": row["detail"],
    }
