"""The mismatch report's tables: one row per (shop, subject, class), the passes, the dirty set.

A mismatch row lives across classification passes: it is new when a pass first finds it,
persisting when a later full pass finds it again, resolved when a pass no longer does. A full
pass is a "run"; `classify_run` keeps each pass's bridge (open before + opened - resolved =
open after). A full pass writes only the rows whose class data changed: every row open after
it was found by it, so an open row's `last_seen_at`, `last_run_id` and `persisting` are derived
at read time from its shop's latest full run (`schema.queries.report.SEEN_SQL`); the stored
`lifecycle` is `new` or `resolved`, and the stored "last seen" columns are those of the last
pass that wrote the row. `classify_dirty` is filled by statement-level triggers on both sides'
tables (migration 0005), so the incremental pass re-classifies exactly the orders whose state
changed, whoever wrote them.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, Text, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from schema.base import SQLModel, bigint_id, created_at_field, jsonb_field, shop_key

__all__ = ["ClassifyDirty", "ClassifyRun", "Mismatch"]


class Mismatch(SQLModel, table=True):
    __table_args__ = (
        Index(
            "uq_mismatch_subject_class",
            "shop_id",
            "subject_kind",
            "subject_key",
            "class",
            unique=True,
        ),
        Index(
            "ix_mismatch_open",
            "shop_id",
            "base_priority",
            "since",
            postgresql_where=text("resolved_at IS NULL"),
        ),
        Index("ix_mismatch_order", "shop_id", "order_id"),
        Index("ix_mismatch_resolved_at", "shop_id", "resolved_at"),
    )

    shop_id: int = shop_key()
    mismatch_id: int | None = bigint_id(generated=True)
    # order, supplier_order or shop; subject_key is that subject's id
    subject_kind: str
    subject_key: int = Field(sa_type=BigInteger)
    order_id: int | None = Field(default=None, sa_type=BigInteger)
    supplier_order_id: int | None = Field(default=None, sa_type=BigInteger)
    mismatch_class: str = Field(sa_column=Column("class", Text, nullable=False))
    # pending or break while open; ok once resolved
    outcome: str
    base_priority: int
    # when the disagreement started (the class's age basis) and when a pending row breaks
    since: datetime
    breaks_at: datetime
    detail: dict[str, object] = jsonb_field()
    # Denormalised so the report filters by supplier and carrier without joins.
    account_ids: list[int] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(BigInteger), nullable=False, server_default="{}"),
    )
    carriers: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"),
    )
    lifecycle: str
    first_seen_at: datetime = created_at_field()
    last_seen_at: datetime = created_at_field()
    first_run_id: int | None = Field(default=None, sa_type=BigInteger)
    last_run_id: int | None = Field(default=None, sa_type=BigInteger)
    resolved_at: datetime | None = None
    resolved_run_id: int | None = Field(default=None, sa_type=BigInteger)
    # auto_pushed (a push succeeded since it opened) or self_healed
    resolution: str | None = None
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_until: datetime | None = None
    acknowledge_reason: str | None = None
    snoozed_at: datetime | None = None
    snoozed_by: str | None = None
    snoozed_until: datetime | None = None
    snooze_reason: str | None = None


class ClassifyRun(SQLModel, table=True):
    """One classification pass over one shop; full passes are the report's runs."""

    __tablename__ = "classify_run"
    __table_args__ = (Index("ix_classify_run_kind", "shop_id", "kind", "run_id"),)

    shop_id: int = shop_key()
    # shared by every shop of one pass (sequence classify_run_id_seq)
    run_id: int = bigint_id()
    # full or incremental
    kind: str
    # the pass's "now": what it classified against, and when the rows it found were seen
    as_of: datetime
    started_at: datetime
    finished_at: datetime
    # open rows this pass found (pending or break)
    found: int
    open_before: int
    opened: int
    resolved: int
    open_after: int


class ClassifyDirty(SQLModel, table=True):
    """Subjects whose state changed since the last pass (written by triggers)."""

    __tablename__ = "classify_dirty"

    shop_id: int = shop_key()
    # order or supplier_order
    subject_kind: str = Field(sa_column=Column(Text, primary_key=True, nullable=False))
    subject_key: int = bigint_id()
    marked_at: datetime = created_at_field()
