"""One module per job; each has a thin arq wrapper and a testable `run_*` function."""
