"""Hand-written SQL, one module per area; functions take a connection and domain arguments."""
