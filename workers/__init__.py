"""arq workers: jobs that apply deliveries, push fulfilments, poll and classify.

Redis only triggers work. Every job re-reads its state from Postgres and is idempotent, and
periodic sweepers re-trigger anything left undone, so losing Redis loses no work.
"""
