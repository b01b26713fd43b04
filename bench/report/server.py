"""The API server the benchmark measures: `python -m bench.report.server <port>`.

Settings come from the environment (DROPSYNC_*), exactly as `dropsync serve` reads them; this
module only skips the embedded servers and the CLI so the process holds nothing but the API.
"""

import sys

import uvicorn

from service.app import create_app
from service.runtime import resolve_runtime
from service.settings import Settings


def main() -> None:
    port = int(sys.argv[1])
    runtime = resolve_runtime(Settings())
    uvicorn.run(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
