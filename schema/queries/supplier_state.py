"""The supplier side of each order: supplier orders and their packages, and their link to
the Shopify order they fulfil.

Linking: a supplier order carries the merchant's reference (CJ `orderNumber`, AliExpress
`out_order_id`, generic `shopify_order_id` / `order_name`); it is matched against the Shopify
orders of the account's shops by id, by name with or without `#`, or by a configured note
attribute (see `core.order_reference`). One account may serve several shops: the match decides
the shop. A supplier order that matches nothing is kept under the account's default shop with no
Shopify order, and reported.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from core.ids import OrderId
from core.order_reference import ReferenceKey, ReferenceKind, order_reference_keys
from core.supplier_model import PackageItem, ShippedPackage
from schema.db import Connection

__all__ = [
    "StoredSupplierOrder",
    "find_orders_by_reference",
    "find_supplier_order",
    "items_json",
    "remove_supplier_order",
    "set_supplier_order_refresh",
    "upsert_packages",
    "upsert_supplier_order",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredSupplierOrder:
    shop_id: int
    supplier_order_id: int
    shopify_order_id: int | None
    reference: str | None


def items_json(items: Sequence[PackageItem]) -> str:
    return orjson.dumps(
        [
            {
                "shopify_line_item_id": item.shopify_line_item_id,
                "sku": item.sku,
                "variant_id": item.variant_id,
                "supplier_variant_id": item.supplier_variant_id,
                "quantity": item.quantity,
            }
            for item in items
        ]
    ).decode()


async def find_orders_by_reference(
    connection: Connection,
    *,
    shop_ids: Sequence[int],
    keys: frozenset[ReferenceKey],
    note_attribute_names: Sequence[str] = (),
) -> Mapping[tuple[int, OrderId], frozenset[ReferenceKey]]:
    """The Shopify orders of `shop_ids` that answer to any of `keys`, with the keys they match."""
    ids = [int(key.value) for key in keys if key.kind is ReferenceKind.ORDER_ID]
    names = [key.value for key in keys if key.kind is ReferenceKind.ORDER_NAME]
    attribute_values = [key.value for key in keys if key.kind is ReferenceKind.NOTE_ATTRIBUTE]
    rows = await connection.fetch(
        """
        SELECT shop_id, order_id, name, note_attributes FROM shopify_order
        WHERE shop_id = ANY($1::bigint[]) AND (
            order_id = ANY($2::bigint[])
            OR upper(btrim(ltrim(btrim(name), '#'))) = ANY($3::text[])
            OR EXISTS (SELECT 1 FROM jsonb_each_text(note_attributes) e
                       WHERE btrim(e.key) = ANY($4::text[])
                         AND upper(btrim(e.value)) = ANY($5::text[])))
        LIMIT 50
        """,
        list(shop_ids),
        ids,
        names,
        list(note_attribute_names),
        attribute_values,
    )
    found: dict[tuple[int, OrderId], frozenset[ReferenceKey]] = {}
    for row in rows:
        attributes = row["note_attributes"] or {}
        order_keys = order_reference_keys(
            order_id=OrderId(row["order_id"]),
            name=row["name"],
            note_attributes=[(str(k), str(v)) for k, v in attributes.items()],
            note_attribute_names=note_attribute_names,
        )
        found[(row["shop_id"], OrderId(row["order_id"]))] = order_keys & keys
    return found


async def find_supplier_order(
    connection: Connection, *, account_id: int, external_id_norm: str
) -> StoredSupplierOrder | None:
    """The account's supplier order with this id, in whichever shop it is kept."""
    row = await connection.fetchrow(
        """
        SELECT shop_id, supplier_order_id, shopify_order_id, reference FROM supplier_order
        WHERE account_id = $1 AND external_id_norm = $2
        ORDER BY shopify_order_id IS NULL, shop_id LIMIT 1
        """,
        account_id,
        external_id_norm,
    )
    return None if row is None else StoredSupplierOrder(**dict(row))


async def remove_supplier_order(
    connection: Connection, *, shop_id: int, supplier_order_id: int
) -> None:
    """Drop a row kept under the wrong shop (it is re-created under the right one)."""
    await connection.execute(
        "DELETE FROM supplier_order WHERE shop_id = $1 AND supplier_order_id = $2",
        shop_id,
        supplier_order_id,
    )


async def upsert_supplier_order(
    connection: Connection,
    *,
    shop_id: int,
    account_id: int,
    external_id: str,
    external_id_norm: str,
    reference: str | None,
    shopify_order_id: int | None,
    status: str | None,
    updated_at: datetime,
    lines_json: str | None = None,
    parent_external_id: str | None = None,
    placed_at: datetime | None = None,
    needs_refresh: bool = False,
) -> int:
    """Insert or update a supplier order; a status older than the stored one is not applied.

    Returns the supplier order id.
    """
    supplier_order_id: int = await connection.fetchval(
        """
        INSERT INTO supplier_order AS o
            (shop_id, account_id, external_id, external_id_norm, reference, shopify_order_id,
             parent_external_id, status, lines, placed_at, updated_at, needs_refresh)
        VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, 'placed'),
                COALESCE($9::jsonb, '[]'::jsonb), $10, $11, $12)
        ON CONFLICT (shop_id, account_id, external_id_norm) DO UPDATE SET
            reference = COALESCE(EXCLUDED.reference, o.reference),
            shopify_order_id = COALESCE(EXCLUDED.shopify_order_id, o.shopify_order_id),
            parent_external_id = COALESCE(EXCLUDED.parent_external_id, o.parent_external_id),
            status = CASE WHEN $8::text IS NOT NULL AND EXCLUDED.updated_at >= o.updated_at
                          THEN EXCLUDED.status ELSE o.status END,
            lines = CASE WHEN $9::jsonb IS NOT NULL AND $9::jsonb <> '[]'::jsonb
                         THEN EXCLUDED.lines ELSE o.lines END,
            placed_at = COALESCE(o.placed_at, EXCLUDED.placed_at),
            updated_at = GREATEST(o.updated_at, EXCLUDED.updated_at),
            needs_refresh = o.needs_refresh OR EXCLUDED.needs_refresh
        RETURNING supplier_order_id
        """,
        shop_id,
        account_id,
        external_id,
        external_id_norm,
        reference,
        shopify_order_id,
        parent_external_id,
        status,
        lines_json,
        placed_at,
        updated_at,
        needs_refresh,
    )
    return supplier_order_id


async def set_supplier_order_refresh(
    connection: Connection, *, shop_id: int, supplier_order_id: int
) -> None:
    await connection.execute(
        "UPDATE supplier_order SET needs_refresh = true"
        " WHERE shop_id = $1 AND supplier_order_id = $2",
        shop_id,
        supplier_order_id,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class _StoredPackage:
    package_id: int
    number: str
    lines: str
    shipped_at: datetime | None
    superseded_at: datetime | None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Relabels:
    # Stored packages replaced by a newer number: (package id, superseded at).
    superseded: list[tuple[int, datetime]]
    # Numbers first heard of after their replacement: inserted already superseded.
    born_superseded: dict[str, datetime]


def _same_items(stored_lines: str, package: ShippedPackage) -> bool:
    def key(lines: Any) -> list[str]:
        return sorted(orjson.dumps(line, option=orjson.OPT_SORT_KEYS).decode() for line in lines)

    return key(orjson.loads(stored_lines)) == key(orjson.loads(items_json(package.items)))


def _relabels(
    stored: Sequence[_StoredPackage],
    incoming: Sequence[ShippedPackage],
    *,
    one_package_per_order: bool,
    complete: bool,
    message_at: datetime,
) -> _Relabels:
    """Which stored packages the incoming numbers replace (the rules are in docs/ingest.md)."""
    known = {package.number for package in stored}
    mentioned = {package.tracking.normalized for package in incoming}
    current = [p for p in stored if p.superseded_at is None and p.number not in mentioned]
    new = [package for package in incoming if package.tracking.normalized not in known]
    superseded: list[tuple[int, datetime]] = []
    born_superseded: dict[str, datetime] = {}
    taken: set[int] = set()
    for package in new:
        if package.previous_tracking is not None:
            replaced = [p for p in current if p.number == package.previous_tracking.normalized]
        elif one_package_per_order:
            replaced = current
        elif len(current) == 1 and len(new) == 1 and complete:
            # A read that lists every parcel of the order no longer lists the one we had, and
            # lists one we never saw: the same parcel, relabelled (AliExpress reads carry no
            # items, so the items rule below cannot tell).
            replaced = current
        elif len(current) == 1 and len(new) == 1 and package.items:
            replaced = [p for p in current if _same_items(p.lines, package)]
        else:
            replaced = []
        for old in replaced:
            if old.package_id in taken:
                continue
            if old.shipped_at is not None and message_at < old.shipped_at:
                # An old number arriving late: the stored one is newer and stays current.
                born_superseded[package.tracking.normalized] = old.shipped_at
            else:
                superseded.append((old.package_id, message_at))
                taken.add(old.package_id)
    return _Relabels(superseded=superseded, born_superseded=born_superseded)


async def upsert_packages(
    connection: Connection,
    *,
    shop_id: int,
    supplier_order_id: int,
    packages: Sequence[ShippedPackage],
    shipped_at: datetime | None,
    one_package_per_order: bool = False,
    complete: bool = False,
    message_at: datetime | None = None,
) -> list[int]:
    """Insert or update packages by (supplier order, normalised tracking number).

    Tracking status and the last event only move forward in time; carrier, URL and items fill
    in when a later message knows them. A new number that replaces a current package (a
    relabel: `previous_tracking`, a CJ order's one package when `one_package_per_order`, or the
    same items as the order's only package, or, when `complete` says `packages` is every parcel
    of the order (a read of the order, not an event), the one new number in place of the one
    current number it no longer lists) supersedes it, decided by `message_at` (default now); a
    superseded package never becomes current again. Returns the package ids.
    """
    unique = {package.tracking.normalized: package for package in packages}
    chosen = [unique[key] for key in sorted(unique)]
    if not chosen:
        return []
    stored = [
        _StoredPackage(
            package_id=row["package_id"],
            number=row["tracking_number_norm"],
            lines=row["lines"],
            shipped_at=row["shipped_at"],
            superseded_at=row["superseded_at"],
        )
        for row in await connection.fetch(
            """
            SELECT package_id, tracking_number_norm, lines::text AS lines, shipped_at,
                   superseded_at
            FROM package WHERE shop_id = $1 AND supplier_order_id = $2
            ORDER BY package_id FOR UPDATE
            """,
            shop_id,
            supplier_order_id,
        )
    ]
    now: datetime = await connection.fetchval("SELECT now()")
    relabels = _relabels(
        stored,
        chosen,
        one_package_per_order=one_package_per_order,
        complete=complete,
        message_at=min(message_at or now, now),
    )
    if relabels.superseded:
        await connection.execute(
            """
            UPDATE package p SET superseded_at = t.at
            FROM unnest($3::bigint[], $4::timestamptz[]) AS t(package_id, at)
            WHERE p.shop_id = $1 AND p.supplier_order_id = $2 AND p.package_id = t.package_id
              AND p.superseded_at IS NULL
            """,
            shop_id,
            supplier_order_id,
            [package_id for package_id, _ in relabels.superseded],
            [at for _, at in relabels.superseded],
        )
    last_events: list[Any] = [
        max(package.events, key=lambda event: event.occurred_at) if package.events else None
        for package in chosen
    ]
    rows = await connection.fetch(
        """
        INSERT INTO package AS p
            (shop_id, supplier_order_id, tracking_number, tracking_number_norm, carrier,
             tracking_url, lines, shipped_at, tracking_status, last_event_at, last_event,
             superseded_at)
        SELECT $1, $2, t.number, t.number_norm, t.carrier, t.url, t.lines::jsonb,
               -- A supplier clock running ahead must not hold a push back: never in the future.
               LEAST($3::timestamptz, now()),
               t.status, t.last_event_at, t.last_event, t.superseded_at
        FROM unnest($4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
                    $10::timestamptz[], $11::text[], $12::timestamptz[])
             AS t(number, number_norm, carrier, url, lines, status, last_event_at, last_event,
                  superseded_at)
        ON CONFLICT (shop_id, supplier_order_id, tracking_number_norm) DO UPDATE SET
            carrier = COALESCE(EXCLUDED.carrier, p.carrier),
            tracking_url = COALESCE(EXCLUDED.tracking_url, p.tracking_url),
            lines = CASE WHEN EXCLUDED.lines <> '[]'::jsonb THEN EXCLUDED.lines ELSE p.lines END,
            shipped_at = COALESCE(p.shipped_at, EXCLUDED.shipped_at),
            tracking_status = CASE
                WHEN EXCLUDED.tracking_status IS NOT NULL AND (p.last_event_at IS NULL
                     OR EXCLUDED.last_event_at IS NULL
                     OR EXCLUDED.last_event_at >= p.last_event_at)
                THEN EXCLUDED.tracking_status ELSE p.tracking_status END,
            last_event_at = GREATEST(p.last_event_at, EXCLUDED.last_event_at),
            last_event = CASE
                WHEN EXCLUDED.last_event_at IS NOT NULL
                     AND (p.last_event_at IS NULL OR EXCLUDED.last_event_at >= p.last_event_at)
                THEN EXCLUDED.last_event ELSE p.last_event END
        RETURNING package_id
        """,
        shop_id,
        supplier_order_id,
        shipped_at,
        [package.tracking.original for package in chosen],
        [package.tracking.normalized for package in chosen],
        [package.carrier for package in chosen],
        [package.tracking_url for package in chosen],
        [items_json(package.items) for package in chosen],
        [package.status.value if package.status else None for package in chosen],
        [event.occurred_at if event else None for event in last_events],
        [event.description if event else None for event in last_events],
        [relabels.born_superseded.get(package.tracking.normalized) for package in chosen],
    )
    return [row["package_id"] for row in rows]
