"""A real Prometheus 2.42 on 127.0.0.1 serving known synthetic data, for SLO tests and the bench.

The data is backfilled with `promtool tsdb create-blocks-from openmetrics` (2 days of 1-minute samples take
well under a second) and Prometheus is started on the blocks with a retention far longer than the data span —
with the default retention it would delete the "old" blocks at start. `start_prometheus` and
`RunningPrometheus.stop` are plain functions so the bench can use them outside pytest.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

from tests.processes import free_port, log_tail, refusing_port, stop, wait_ready
from tests.slo_data import SyntheticData, generate

MISSING = "prometheus/promtool not installed — run make test (it installs Debian's prometheus)"
CONFIG = "global:\n  scrape_interval: 1m\n  evaluation_interval: 1m\n"


class PrometheusStartError(RuntimeError):
    pass


@dataclass
class RunningPrometheus:
    url: str
    at: datetime
    """Pinned evaluation time: the timestamp of the last generated sample."""
    data: SyntheticData
    process: subprocess.Popen[bytes]
    workdir: Path
    _owned_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def stop(self) -> None:
        stop(self.process)
        if self._owned_dir is not None:
            self._owned_dir.cleanup()

    def log_tail(self, lines: int = 20) -> str:
        return log_tail(self.workdir / "prometheus.log", lines)


def binaries() -> tuple[str, str] | None:
    """(promtool, prometheus) paths, or None when Debian's prometheus package is not installed."""
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    return (promtool, prometheus) if promtool and prometheus else None


def backfill(data: SyntheticData, workdir: Path, promtool: str) -> Path:
    """Write the OpenMetrics file and turn it into TSDB blocks; returns the storage directory."""
    source = workdir / "data.om"
    storage = workdir / "tsdb"
    source.write_text(data.openmetrics())
    done = subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(storage)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise PrometheusStartError(f"promtool backfill failed ({done.returncode}): {done.stderr[-2000:]}")
    return storage


def start_prometheus(data: SyntheticData | None = None, workdir: Path | None = None) -> RunningPrometheus:
    """Backfill `data` (default: `generate()`) and run Prometheus on it; call `.stop()` when done.

    Raises FileNotFoundError when the binaries are missing, PrometheusStartError when they fail.
    """
    found = binaries()
    if found is None:
        raise FileNotFoundError(MISSING)
    promtool, prometheus = found
    data = data or generate()
    owned = None
    if workdir is None:
        owned = tempfile.TemporaryDirectory(prefix="incidentbot-prometheus-")
        workdir = Path(owned.name)
    storage = backfill(data, workdir, promtool)
    config = workdir / "prometheus.yml"
    config.write_text(CONFIG)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus,
            f"--config.file={config}",
            f"--storage.tsdb.path={storage}",
            "--storage.tsdb.retention.time=3650d",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    running = RunningPrometheus(url, data.end, data, process, workdir, owned)
    try:
        wait_ready(url, process, PrometheusStartError, "prometheus", 60.0)
    except PrometheusStartError as exc:
        tail = running.log_tail()
        running.stop()
        raise PrometheusStartError(f"{exc}\n{tail}") from exc
    return running


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPrometheus]:
    """Prometheus with `tests.slo_data.generate()` backfilled; query it with `time=` pinned to `.at`."""
    if binaries() is None:
        pytest.skip(MISSING)
    running = start_prometheus(generate(), tmp_path_factory.mktemp("prometheus"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def unreachable_prometheus_url() -> Iterator[str]:
    """A 127.0.0.1 port nothing listens on: connections are refused at once."""
    with refusing_port() as port:
        yield f"http://127.0.0.1:{port}"
