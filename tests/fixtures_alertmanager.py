"""A real Alertmanager 0.25 on 127.0.0.1 whose only receiver is a webhook the test serves.

Tests push alerts through Alertmanager's own API and receive what a production Alertmanager would send —
grouping, timing, the Authorization header, resolved notifications — instead of hand-written payloads that
drift from the real ones. Clustering is disabled (`--cluster.listen-address=`): with it on, Alertmanager
waits for gossip to settle before the first notification and tries to bind a fixed port. `run_alertmanager`
and `RunningAlertmanager.stop` are plain functions so a bench or a script can use them outside pytest.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.processes import free_port, log_tail, stop, wait_ready

MISSING = (
    "prometheus-alertmanager not installed — run make test (it installs Debian's prometheus-alertmanager)"
)
RECEIVER = "incidentbot"


class AlertmanagerStartError(RuntimeError):
    pass


@dataclass
class RunningAlertmanager:
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    _owned_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)

    def post_alerts(self, alerts: Sequence[Mapping[str, Any]]) -> None:
        """POST /api/v2/alerts (datetimes become RFC 3339). Blocking: async tests use asyncio.to_thread."""
        body = json.dumps([_alert_json(alert) for alert in alerts]).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/alerts",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")
            raise AssertionError(f"Alertmanager refused the alerts ({exc.code}): {detail}") from exc

    def stop(self) -> None:
        stop(self.process)
        if self._owned_dir is not None:
            self._owned_dir.cleanup()
            self._owned_dir = None

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.workdir / "alertmanager.log", lines)


def binary() -> str | None:
    return shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _alert_json(alert: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in alert.items()}


def alertmanager_config(
    webhook_url: str,
    bearer_token: str,
    *,
    group_by: Sequence[str],
    group_wait: str,
    group_interval: str,
    repeat_interval: str,
    resolve_timeout: str,
    max_alerts: int = 0,
) -> dict[str, Any]:
    """One route, one webhook receiver, sending resolved notifications with a bearer token."""
    webhook: dict[str, Any] = {
        "url": webhook_url,
        "send_resolved": True,
        "http_config": {"authorization": {"type": "Bearer", "credentials": bearer_token}},
    }
    if max_alerts:
        webhook["max_alerts"] = max_alerts
    return {
        "global": {"resolve_timeout": resolve_timeout},
        "route": {
            "receiver": RECEIVER,
            "group_by": list(group_by),
            "group_wait": group_wait,
            "group_interval": group_interval,
            "repeat_interval": repeat_interval,
        },
        "receivers": [{"name": RECEIVER, "webhook_configs": [webhook]}],
    }


def run_alertmanager(
    webhook_url: str,
    bearer_token: str,
    *,
    group_by: Sequence[str] = ("alertname", "service"),
    group_wait: str = "1s",
    group_interval: str = "1s",
    repeat_interval: str = "1h",
    resolve_timeout: str = "5m",
    max_alerts: int = 0,
    workdir: Path | None = None,
) -> RunningAlertmanager:
    """Run Alertmanager notifying `webhook_url`; call `.stop()` when done.

    Raises FileNotFoundError when the binary is missing, AlertmanagerStartError when it fails to start
    (a config it rejects included: the log tail is in the message).
    """
    executable = binary()
    if executable is None:
        raise FileNotFoundError(MISSING)
    owned = None
    if workdir is None:
        owned = tempfile.TemporaryDirectory(prefix="incidentbot-alertmanager-")
        workdir = Path(owned.name)
    config = workdir / "alertmanager.yml"
    config.write_text(
        yaml.safe_dump(
            alertmanager_config(
                webhook_url,
                bearer_token,
                group_by=group_by,
                group_wait=group_wait,
                group_interval=group_interval,
                repeat_interval=repeat_interval,
                resolve_timeout=resolve_timeout,
                max_alerts=max_alerts,
            )
        )
    )
    storage = workdir / "data"
    storage.mkdir(exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = (workdir / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            executable,
            f"--config.file={config}",
            f"--storage.path={storage}",
            f"--web.listen-address=127.0.0.1:{port}",
            f"--web.external-url={url}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    running = RunningAlertmanager(url, process, workdir, owned)
    try:
        wait_ready(url, process, AlertmanagerStartError, "alertmanager", 30.0)
    except AlertmanagerStartError as exc:
        tail = running.log_tail()
        running.stop()
        raise AlertmanagerStartError(f"{exc}\n{tail}") from exc
    return running


@pytest.fixture
def start_alertmanager(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Callable[..., RunningAlertmanager]]:
    """Factory: `start_alertmanager(webhook_url, bearer_token, group_by=…, group_wait="1s", …)`.

    Function-scoped because each test serves its own webhook; every Alertmanager started is stopped at
    teardown (starting one takes well under a second).
    """
    if binary() is None:
        pytest.skip(MISSING)
    started: list[RunningAlertmanager] = []

    def start(webhook_url: str, bearer_token: str, **options: Any) -> RunningAlertmanager:
        options.setdefault("workdir", tmp_path_factory.mktemp("alertmanager"))
        running = run_alertmanager(webhook_url, bearer_token, **options)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()
