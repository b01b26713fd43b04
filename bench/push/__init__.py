"""Push-back benchmarks and the fault check (see docs/push.md)."""
