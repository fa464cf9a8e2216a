"""Helpers for the real servers tests start as processes (Prometheus, Alertmanager)."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    """A port for a server that must be told one (a subprocess). Released here, so only for that:
    an in-process server binds port 0 and reads its port back; an unreachable URL uses `refusing_port`."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def refusing_port() -> Iterator[int]:
    """Bound, never listened on: connections are refused, and no server started meanwhile takes it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        yield int(held.getsockname()[1])


@contextmanager
def hanging_port() -> Iterator[int]:
    """Accepts connections (kernel backlog) and never answers: a wedged server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1024)
        yield int(held.getsockname()[1])


def wait_ready(
    url: str, process: subprocess.Popen[bytes], error: type[Exception], name: str, timeout: float
) -> None:
    """Poll `{url}/-/ready` (both Prometheus and Alertmanager serve it) until 200, or raise `error`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise error(f"{name} exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise error(f"{name} not ready at {url} after {timeout:g} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill what does not stop within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def log_tail(log: Path, lines: int) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
