"""Splitting the full pass into batches of shops that run side by side.

A shop's classification reads only that shop's rows (every table is keyed by shop first), so
the full pass can classify disjoint sets of shops in separate transactions on separate
connections: PostgreSQL 15 runs none of the screen's full joins in parallel, but two
connections do use two cores. A batch is a contiguous range of shop ids (a `BETWEEN` the
screen's statements filter each table with: no list of ids in the SQL, whatever the number of
shops), and the ranges are cut so that each holds about the same number of orders. There are
as many batches as connections at work, not one per shop: 10,000 small shops cost N
transactions, not 10,000 screens of every table.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from schema.db import Connection

__all__ = ["BIGINT_MAX", "BIGINT_MIN", "ShopBatch", "plan_batches", "shop_weights"]

BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ShopBatch:
    """Shops `shop_ids` (those classified) and the id range [first, last] screened for them.

    The ranges of one pass cover every bigint, so rows of shops not classified (uninstalled, or
    created during the pass) are screened exactly once, as by a single-transaction pass.
    """

    first: int
    last: int
    shop_ids: tuple[int, ...]


def plan_batches(weights: Mapping[int, float], parts: int) -> list[ShopBatch]:
    """At most `parts` batches of consecutive shop ids with about equal total weight (orders).

    A shop is never split, so one shop bigger than the rest together makes an unbalanced pair;
    every batch holds at least one shop. No shops: one batch over every id (it still screens,
    and clears the dirty set, as a pass always did).
    """
    shops = sorted(weights)
    if not shops:
        return [ShopBatch(first=BIGINT_MIN, last=BIGINT_MAX, shop_ids=())]
    parts = max(1, min(parts, len(shops)))
    total = sum(max(weights[shop], 0.0) for shop in shops) or 1.0
    groups: list[list[int]] = [[]]
    done = 0.0
    for index, shop in enumerate(shops):
        weight = max(weights[shop], 0.0)
        left_shops, left_parts = len(shops) - index, parts - len(groups)
        # Cut before a shop that would sit mostly past this batch's share (so ten equal shops
        # split five and five even when the measured shares are a hair under a tenth), or when
        # each shop left needs a batch of its own.
        reached = done + weight / 2 > total * len(groups) / parts
        if groups[-1] and left_parts > 0 and (reached or left_shops == left_parts):
            groups.append([])
        groups[-1].append(shop)
        done += weight
    batches = []
    for number, group in enumerate(groups):
        first = BIGINT_MIN if number == 0 else group[0]
        last = BIGINT_MAX if number == len(groups) - 1 else groups[number + 1][0] - 1
        batches.append(ShopBatch(first=first, last=last, shop_ids=tuple(group)))
    return batches


async def shop_weights(connection: Connection, shop_ids: Sequence[int]) -> dict[int, float]:
    """Each shop's share of the orders, from the planner's statistics on `shopify_order`
    (free: counting the orders per shop would cost a fifth of the baseline at a million
    orders). A shop among the most common values has its measured share; the others split what
    remains evenly (they are the small ones); without statistics every shop weighs the same.
    """
    row = await connection.fetchrow(
        """
        SELECT most_common_vals::text::bigint[] AS shops, most_common_freqs AS shares
        FROM pg_stats
        WHERE schemaname = current_schema() AND tablename = 'shopify_order'
          AND attname = 'shop_id'
        """
    )
    common: dict[int, float] = {}
    if row is not None and row["shops"] is not None:
        common = dict(zip(row["shops"], row["shares"], strict=True))
    others = [shop for shop in shop_ids if shop not in common]
    rest = max(1.0 - sum(common.values()), 0.0) / len(others) if common and others else 1.0
    return {shop: common.get(shop, rest) for shop in shop_ids}
