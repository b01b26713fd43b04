"""dropsync's HTTP edge: FastAPI app, settings, CLI and process wiring."""
