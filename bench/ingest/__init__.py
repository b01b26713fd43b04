"""`python -m bench.ingest`: webhook receipt throughput, latency and apply lag (see __main__)."""
