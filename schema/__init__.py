"""Storage: SQLModel table declarations, Alembic migrations and hand-written SQL queries.

SQLModel declares the tables (the single source the migrations are checked against). Queries are
set-based SQL run through asyncpg, because the hot paths (ingest, classification, push planning)
work on batches and gain nothing from an ORM unit of work.
"""
