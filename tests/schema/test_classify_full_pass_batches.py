"""The full pass in batches of shops on concurrent connections: the same rows, bridges and
timeline as one batch, and a failed batch leaves its shops as they were (no half-recorded run).
"""

import itertools
import json
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from core.report_classes import Thresholds
from schema.classify import passes
from schema.classify.batches import BIGINT_MAX, BIGINT_MIN, ShopBatch, plan_batches, shop_weights
from schema.classify.passes import FullPassIncompleteError, PassResult, run_full_pass
from schema.db import Connection
from schema.queries.report import SEEN_SQL
from tests.seed import NOW, BulkShape, seed_account, seed_bulk, seed_planted_store, seed_shop

# ---- planning -------------------------------------------------------------------------------


def _covers_every_id(batches: list[ShopBatch]) -> bool:
    joined = all(a.last + 1 == b.first for a, b in itertools.pairwise(batches))
    return batches[0].first == BIGINT_MIN and batches[-1].last == BIGINT_MAX and joined


def test_batches_are_contiguous_ranges_of_about_equal_orders() -> None:
    weights = dict.fromkeys(range(1, 11), 1.0)
    batches = plan_batches(weights, 2)
    assert [batch.shop_ids for batch in batches] == [(1, 2, 3, 4, 5), (6, 7, 8, 9, 10)]
    assert _covers_every_id(batches)
    assert all(batch.first <= min(batch.shop_ids) for batch in batches)
    assert all(batch.last >= max(batch.shop_ids) for batch in batches)


def test_a_big_shop_gets_a_batch_of_its_own() -> None:
    weights = {1: 0.9, **dict.fromkeys(range(2, 12), 0.01)}
    batches = plan_batches(weights, 2)
    assert [batch.shop_ids for batch in batches] == [(1,), tuple(range(2, 12))]
    weights = {**dict.fromkeys(range(1, 11), 0.01), 11: 0.9}
    assert [batch.shop_ids for batch in plan_batches(weights, 3)][-1] == (11,)


def test_never_more_batches_than_shops_and_never_an_empty_one() -> None:
    assert [b.shop_ids for b in plan_batches({7: 1.0, 9: 1.0}, 8)] == [(7,), (9,)]
    assert [b.shop_ids for b in plan_batches({7: 0.0, 8: 0.0, 9: 5.0}, 3)] == [(7,), (8,), (9,)]
    assert [b.shop_ids for b in plan_batches({7: 1.0}, 0)] == [(7,)]
    (nothing,) = plan_batches({}, 4)
    assert (nothing.first, nothing.last, nothing.shop_ids) == (BIGINT_MIN, BIGINT_MAX, ())


def test_ten_thousand_small_shops_make_two_batches() -> None:
    batches = plan_batches(dict.fromkeys(range(10000), 1.0), 2)
    assert [len(batch.shop_ids) for batch in batches] == [5_000, 5_000]
    assert _covers_every_id(batches)


async def test_shop_weights_follow_the_planner_statistics(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        shops = [await seed_shop(connection, domain=f"w{i}.myshopify.com") for i in range(3)]
        await connection.execute("ANALYZE shopify_order")  # empty: no statistics on shop_id
        assert await shop_weights(connection, shops) == dict.fromkeys(shops, 1.0)
        await seed_bulk(
            connection,
            shape=BulkShape(orders=600),
            shop_ids=shops[:2],
            account_ids=[await seed_account(connection, name="w-cj")],
        )
        await connection.execute("ANALYZE shopify_order")
        weights = await shop_weights(connection, shops)
    assert weights[shops[0]] == pytest.approx(0.5, abs=0.05)
    assert weights[shops[1]] == pytest.approx(0.5, abs=0.05)
    assert weights[shops[2]] == pytest.approx(0.0, abs=0.01)  # no orders: what remains


# ---- passes ---------------------------------------------------------------------------------

_ROWS = f"""
SELECT m.shop_id, m.subject_kind, m.subject_key, m.class, m.outcome, m.since, m.breaks_at,
       m.detail, m.account_ids, m.carriers, m.resolution, m.resolved_at IS NULL AS open,
       {SEEN_SQL["lifecycle"]} AS lifecycle, {SEEN_SQL["last_seen_at"]} AS last_seen_at
FROM mismatch m LEFT JOIN ({SEEN_SQL["last_full_runs"]}) lr ON lr.shop_id = m.shop_id
"""

_BRIDGES = """
SELECT shop_id, kind, as_of, found, open_before, opened, resolved, open_after,
       dense_rank() OVER (ORDER BY run_id) AS run
FROM classify_run
"""

_TIMELINE = """
SELECT shop_id, order_id, supplier_order_id, kind, detail->>'class' AS class, count(*) AS n
FROM order_event WHERE actor = 'classifier' GROUP BY 1, 2, 3, 4, 5
"""


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    return tuple(value) if isinstance(value, list) else value


async def _state(connection: Connection) -> dict[str, set[tuple[Any, ...]]]:
    return {
        name: {tuple(map(_frozen, row.values())) for row in await connection.fetch(sql)}
        for name, sql in (("rows", _ROWS), ("bridges", _BRIDGES), ("timeline", _TIMELINE))
    }


async def _forget_passes(connection: Connection) -> None:
    """Back to before any pass (the seeded data stays)."""
    await connection.execute("DELETE FROM mismatch")
    await connection.execute("DELETE FROM classify_run")
    await connection.execute("DELETE FROM order_event WHERE actor = 'classifier'")


async def _stale_row(connection: Connection, shop_id: int, order_id: int) -> None:
    """An open row no pass will find again (a shop's class on an order subject): the next full
    pass resolves it."""
    await connection.execute(
        """
        INSERT INTO mismatch (shop_id, subject_kind, subject_key, order_id, class, outcome,
                              base_priority, since, breaks_at, detail, account_ids, carriers,
                              lifecycle, first_seen_at, last_seen_at)
        VALUES ($1, 'order', $2, $2, 'shop_needs_attention', 'break', 1, $3, $3, '{}', '{}',
                '{}', 'new', $3, $3)
        """,
        shop_id,
        order_id,
        NOW - timedelta(days=1),
    )


async def _seed_shops(connection: Connection) -> list[int]:
    planted, _ = await seed_planted_store(connection)
    shops = [await seed_shop(connection, domain=f"multi{i}.myshopify.com") for i in range(4)]
    await seed_bulk(
        connection,
        shape=BulkShape(orders=1600),
        shop_ids=shops,
        account_ids=[await seed_account(connection, name="multi-cj")],
    )
    return [planted, *shops]


async def _two_passes(
    pool: asyncpg.Pool, connection: Connection, shops: list[int], concurrency: int
) -> tuple[PassResult, PassResult]:
    first = await run_full_pass(
        connection, now=NOW, thresholds=Thresholds(), pool=pool, concurrency=concurrency
    )
    for shop in shops:
        order_id = await connection.fetchval(
            "SELECT min(order_id) FROM shopify_order WHERE shop_id = $1", shop
        )
        await _stale_row(connection, shop, order_id)
    # an hour later: rows seen again persist, the stale rows resolve, some pending rows break
    second = await run_full_pass(
        connection,
        now=NOW + timedelta(hours=1),
        thresholds=Thresholds(),
        pool=pool,
        concurrency=concurrency,
    )
    return first, second


@pytest.mark.parametrize("concurrency", [2, 3])
async def test_concurrent_batches_record_what_one_batch_records(
    pool: asyncpg.Pool, concurrency: int
) -> None:
    async with pool.acquire() as connection:
        shops = await _seed_shops(connection)
        serial = await _two_passes(pool, connection, shops, 1)
        serial_state = await _state(connection)
        await _forget_passes(connection)
        batched = await _two_passes(pool, connection, shops, concurrency)
        batched_state = await _state(connection)
        run_ids = {
            row["run_id"]: row["n"]
            for row in await connection.fetch(
                "SELECT run_id, count(*) AS n FROM classify_run WHERE run_id = ANY ($1::bigint[])"
                " GROUP BY run_id",
                [batched[0].run_id, batched[1].run_id],
            )
        }
    for one, many in zip(serial, batched, strict=True):
        assert (one.shops, one.found, one.opened, one.resolved) == (
            many.shops,
            many.found,
            many.opened,
            many.resolved,
        )
    assert batched[1].resolved == len(shops)  # the stale rows
    assert batched[1].opened == 0
    assert batched_state == serial_state
    # one run id per pass, one bridge row per shop under it
    assert run_ids == {batched[0].run_id: len(shops), batched[1].run_id: len(shops)}


async def test_a_failed_batch_leaves_its_shops_as_they_were(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pool.acquire() as connection:
        shops = await _seed_shops(connection)
        first = await run_full_pass(
            connection, now=NOW, thresholds=Thresholds(), pool=pool, concurrency=2
        )
        for shop in shops:
            await _stale_row(connection, shop, 1)  # order 1 or none: either way never found
        await connection.execute("UPDATE shopify_order SET updated_at = updated_at")  # dirty
        before = await _state(connection)
        victim = max(shops)  # always in the last batch
        original = passes._classify_and_merge

        async def fail_after_merging(connection: Connection, **kwargs: Any) -> PassResult:
            result = await original(connection, **kwargs)
            if victim in kwargs["batch"].shop_ids:
                raise RuntimeError("lost the connection")
            return result

        monkeypatch.setattr(passes, "_classify_and_merge", fail_after_merging)
        with pytest.raises(FullPassIncompleteError) as raised:
            await run_full_pass(
                connection,
                now=NOW + timedelta(hours=1),
                thresholds=Thresholds(),
                pool=pool,
                concurrency=2,
            )
        after = await _state(connection)
        failed = set(raised.value.failed_shop_ids)
        done = set(shops) - failed
        recorded = {
            row["shop_id"]
            for row in await connection.fetch(
                "SELECT shop_id FROM classify_run WHERE run_id = $1", raised.value.result.run_id
            )
        }
        dirty = {
            row["shop_id"]
            for row in await connection.fetch("SELECT DISTINCT shop_id FROM classify_dirty")
        }
        # with one batch, nothing committed: the error itself
        with pytest.raises(RuntimeError, match="lost the connection"):
            await run_full_pass(connection, now=NOW, thresholds=Thresholds())
    assert isinstance(raised.value.__cause__, RuntimeError)
    assert victim in failed
    assert done
    assert raised.value.result.shops == len(done)
    assert raised.value.result.resolved == len(done)  # the stale rows of the shops done
    assert recorded == done
    assert dirty == failed  # the failed shops' changes wait for the next pass

    def of(state: dict[str, set[tuple[Any, ...]]], name: str, shop_ids: set[int]) -> set[Any]:
        return {row for row in state[name] if row[0] in shop_ids}

    for name in ("rows", "bridges", "timeline"):
        assert of(after, name, failed) == of(before, name, failed)
        assert of(after, name, done) != of(before, name, done)
    assert {row[-1] for row in of(after, "bridges", done)} == {1, 2}
    assert first.shops == len(shops)


def test_nearly_equal_shops_split_evenly() -> None:
    # Shares as the planner's statistics measure ten equal shops: each a hair off a tenth.
    shares = [0.0998, 0.0999, 0.1001, 0.0997, 0.0999, 0.1003, 0.1002, 0.1, 0.1001, 0.1]
    batches = plan_batches(dict(enumerate(shares, start=1)), 2)
    assert [len(batch.shop_ids) for batch in batches] == [5, 5]
