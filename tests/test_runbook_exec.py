"""Running runbook steps safely — these tests try to break out.

- Parameters: injection attempts are refused by patterns with a clear message; values a permissive pattern
  lets through reach the program as ONE literal argv element (a real program prints its argv) and no shell
  ever runs (the files the payloads would create never appear).
- Processes: hanging steps, children that ignore SIGTERM and double-forked grandchildren are killed at the
  timeout, and the whole process group is gone afterwards (`os.killpg(pgid, 0)` raises ProcessLookupError).
- Output: 50 MB of output returns promptly, counted but not kept; the bot's peak RSS grows by less than
  RSS_BOUND (measured in a fresh interpreter with VmHWM, next to a naive read of the same output that grows
  by more than the output's size — so the measurement is shown to see the difference).
- Redaction of secret env values and token shapes; exit codes; programs that cannot start.
- `http` steps against a local aiohttp server; `check` steps against the real Prometheus fixture.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from pydantic import ValidationError

from bot.runbooks.execute import CommandResult, Redactor, run_command, secret_values, step_env
from bot.runbooks.params import ParamError, argv, preview, resolve_params
from bot.runbooks.probes import parse_condition, run_check, run_http
from bot.runbooks.schema import Param, Step
from bot.slo.prometheus import PrometheusClient
from tests.fixtures_prometheus import RunningPrometheus
from tests.processes import refusing_port

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
PRINT_ARGV = "import sys, json; print(json.dumps(sys.argv[1:]))"
ENV = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8"}
NO_SECRETS = Redactor([])
RSS_BOUND = 10 * 1024 * 1024
"""Peak RSS growth allowed while a command writes 50 MB (1 MB of it is kept)."""
FIFTY_MB = 50_000_000


def command_step(command: list[str], params: dict[str, Any], **extra: Any) -> Step:
    return Step(id="step", kind="command", title="A command", command=command, params=params, **extra)


async def execute(
    args: list[str],
    timeout: float = 10,  # noqa: ASYNC109 — passed through to run_command
    max_output_bytes: int = 100_000,
    **kwargs: Any,
) -> CommandResult:
    options: dict[str, Any] = {"cwd": None, "env": ENV, "redact": NO_SECRETS, **kwargs}
    return await run_command(args, timeout=timeout, max_output_bytes=max_output_bytes, **options)


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# --- parameters: refused --------------------------------------------------------------------------

STRICT = command_step(
    [PY, "-c", PRINT_ARGV, "{name}"],
    {"name": Param(pattern="[a-z][a-z0-9-]{0,62}", description="a deployment name")},
)
ATTACKS = {
    "; rm -rf /": "does not match the allowed pattern [a-z][a-z0-9-]{0,62} (a deployment name)",
    "checkout; rm -rf /": "does not match the allowed pattern",
    "$(touch /tmp/pwned)": "does not match the allowed pattern",
    "`touch /tmp/pwned`": "does not match the allowed pattern",
    "checkout && touch /tmp/pwned": "does not match the allowed pattern",
    "checkout | sh": "does not match the allowed pattern",
    "checkout\nrm -rf /": "must not contain control characters or line breaks (found U+000A)",
    "checkout\r": "must not contain control characters or line breaks (found U+000D)",
    "checkout\x00": "must not contain control characters or line breaks (found U+0000)",
    "checkout\u2028x": "must not contain control characters or line breaks (found U+2028)",
    "check\u202eout": "must not contain control characters or line breaks (found U+202E)",  # RTL override
    "che\u200bckout": "must not contain control characters or line breaks (found U+200B)",  # zero width
    "../../etc/passwd": "does not match the allowed pattern",
    "\u0441heckout": "does not match the allowed pattern",  # Cyrillic "с"
    "\uff43heckout": "does not match the allowed pattern",  # fullwidth "ｃ"
    "-rf": "does not match the allowed pattern",
    "a" * 10_000: "is 10000 characters long; at most 200 are allowed",
}


@pytest.mark.parametrize("value", list(ATTACKS), ids=[repr(v[:20]) for v in ATTACKS])
def test_injection_attempts_are_refused_with_a_clear_message(value: str) -> None:
    with pytest.raises(ParamError) as caught:
        resolve_params(STRICT, {"name": value})
    assert caught.value.name == "name"
    assert ATTACKS[value] in caught.value.message
    assert str(caught.value) == f"name: {caught.value.message}"
    with pytest.raises(ParamError):  # argv re-checks, so a caller that skipped resolve_params is safe too
        argv(STRICT, {"name": value})


def test_pattern_classes_are_ascii_only() -> None:
    """`\\w` and `\\d` would accept look-alike letters and digits in Python's default Unicode mode."""
    step = command_step(
        ["echo", "{name}", "{n}"], {"name": Param(pattern=r"\w+"), "n": Param(pattern=r"\d+")}
    )
    assert resolve_params(step, {"name": "checkout_1", "n": "42"}) == {"name": "checkout_1", "n": "42"}
    for name, value in (("name", "\u0441heckout"), ("name", "caf\u00e9"), ("n", "\u0664\u0662")):  # ٤٢
        with pytest.raises(ParamError, match="does not match the allowed pattern"):
            resolve_params(step, {"name": "ok", "n": "1", name: value})


def test_types_defaults_unknown_and_missing_parameters() -> None:
    step = command_step(
        ["kubectl", "scale", "deployment/{name}", "--namespace", "{ns}", "--replicas={replicas}"],
        {
            "name": Param(pattern="[a-z-]+"),
            "ns": Param(type="enum", choices=["prod", "staging"], default="prod"),
            "replicas": Param(type="int", default="2"),
        },
    )
    assert resolve_params(step, {"name": "checkout"}) == {"name": "checkout", "ns": "prod", "replicas": "2"}
    assert resolve_params(step, {"name": "checkout", "ns": "", "replicas": "5"})["ns"] == "prod"
    assert argv(step, {"name": "checkout", "replicas": "5"}) == [
        "kubectl",
        "scale",
        "deployment/checkout",
        "--namespace",
        "prod",
        "--replicas=5",
    ]
    problems = {
        "ns=dev": ({"name": "x", "ns": "dev"}, "ns", "must be one of: prod, staging"),
        "replicas=-1": ({"name": "x", "replicas": "-1"}, "replicas", "must be a whole number"),
        "replicas=1e3": ({"name": "x", "replicas": "1e3"}, "replicas", "must be a whole number"),
        "replicas=٣": ({"name": "x", "replicas": "\u0663"}, "replicas", "must be a whole number"),
        "missing": ({}, "name", "is required"),
        "unknown": ({"name": "x", "image": "evil"}, "image", "unknown parameter (step step takes: name, ns"),
    }
    for label, (given, name, message) in problems.items():
        with pytest.raises(ParamError) as caught:
            resolve_params(step, given)
        assert (caught.value.name, label) == (name, label)
        assert message in caught.value.message, label


def test_a_value_that_begins_an_argument_must_not_look_like_an_option() -> None:
    step = command_step(
        ["curl", "{url}", "--header", "X-Trace: {trace}"],
        {"url": Param(pattern=".*"), "trace": Param(pattern=".*")},
    )
    with pytest.raises(ParamError) as caught:
        resolve_params(step, {"url": "--output=/etc/passwd", "trace": "x"})
    assert caught.value.name == "url"
    assert caught.value.message == "must not start with '-' (the program would read it as an option)"
    assert argv(step, {"url": "http://x", "trace": "-1"})[-1] == "X-Trace: -1"  # inside an argument: harmless


# --- parameters: what gets through arrives as one literal argument ---------------------------------

PERMISSIVE = command_step(
    [PY, "-c", PRINT_ARGV, "{value}", "--label={value}", "{other}"],
    {"value": Param(pattern=".*", max_length=4096), "other": Param(pattern=".*", default="fixed")},
)


def payloads(marker: Path) -> list[str]:
    return [
        f"; touch {marker}",
        f"$(touch {marker})",
        f"`touch {marker}`",
        f"x && touch {marker} || touch {marker}",
        f"x | touch {marker}",
        f"x > {marker}",
        "../../../etc/passwd",
        "*",
        "~root",
        "$HOME ${PATH}",
        "'\"\\",
        "a  b   c",
        "{other}",
        "%s %n {0}",
        "\u0441heckout \uff43",
        "x" * 4000,
    ]


async def test_permitted_values_reach_the_program_as_one_literal_argv_element(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for value in payloads(marker):
        args = argv(PERMISSIVE, {"value": value})
        assert args[3:] == [value, f"--label={value}", "fixed"]
        result = await execute(args, cwd=str(tmp_path))
        assert result.exit_code == 0, result
        assert json.loads(result.output) == [value, f"--label={value}", "fixed"], value
        assert not marker.exists(), f"{value!r} created a file: a shell ran"
    assert sorted(os.listdir(tmp_path)) == []


def test_preview_quotes_like_a_shell_but_is_never_executed() -> None:
    shown = preview(PERMISSIVE, {"value": "$(touch /tmp/x); echo"})
    assert shown.endswith("'$(touch /tmp/x); echo' '--label=$(touch /tmp/x); echo' fixed")
    assert preview(PERMISSIVE).endswith("'<value>' '--label=<value>' '<other>'")
    braces = command_step(["curl", "-w", "%{{http_code}}", "{url}"], {"url": Param(pattern="http://.*")})
    assert argv(braces, {"url": "http://x"}) == ["curl", "-w", "%{http_code}", "http://x"]
    jsonpath = command_step(
        ["kubectl", "get", "-o", "jsonpath={.status}", "{n}"], {"n": Param(pattern="[a-z]+")}
    )
    assert argv(jsonpath, {"n": "pod"})[3] == "jsonpath={.status}"


# --- processes ------------------------------------------------------------------------------------


async def test_exit_codes_output_and_programs_that_cannot_start(tmp_path: Path) -> None:
    ok = await execute([PY, "-c", "print('fine')"])
    assert (ok.exit_code, ok.timed_out, ok.output, ok.error) == (0, False, "fine\n", None)
    failed = await execute([PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)"])
    assert failed.exit_code == 3 and "out\n" in failed.output and "err\n" in failed.output
    assert failed.output_bytes == 8 and not failed.truncated
    missing = await execute(["no-such-program-incidentbot", "x"])
    assert missing.exit_code is None and missing.error is not None
    assert missing.error.startswith("no-such-program-incidentbot: not found")
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    denied = await execute([str(script)])
    assert denied.error == f"{script}: permission denied (not executable)"
    nowhere = await execute(["true"], cwd=str(tmp_path / "nowhere"))
    assert nowhere.error is not None and "working directory" in nowhere.error
    here = await execute([PY, "-c", "import os; print(os.getcwd())"], cwd=str(tmp_path))
    assert here.output.strip() == str(tmp_path)


async def test_stdin_is_closed_so_nothing_waits_for_input() -> None:
    started = time.monotonic()
    result = await execute(["cat"], timeout=5)
    assert result.exit_code == 0 and result.output == "" and not result.timed_out
    assert time.monotonic() - started < 2


async def test_a_hanging_step_is_killed_at_its_timeout() -> None:
    result = await execute(
        [PY, "-c", "import os, time; print(os.getpgid(0), flush=True); time.sleep(600)"], timeout=0.5
    )
    assert result.timed_out and result.exit_code == -signal.SIGTERM
    assert timedelta(seconds=0.5) <= result.duration < timedelta(seconds=5)
    pgid = int(result.output.split()[0])
    assert group_gone(pgid)
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)


STUBBORN = r"""
import os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)      # inherited by every fork below
print("pgid", os.getpgid(0), flush=True)
print("leader", os.getpid(), flush=True)
if os.fork() == 0:                                 # a child that stays and ignores SIGTERM
    print("child", os.getpid(), flush=True)
    time.sleep(600)
    os._exit(0)
if os.fork() == 0:                                 # double fork: the middle process exits at once,
    if os.fork() == 0:                             # its child is orphaned but stays in the group
        print("grandchild", os.getpid(), flush=True)
        time.sleep(600)
        os._exit(0)
    os._exit(0)
time.sleep(600)
"""


async def test_children_that_ignore_sigterm_and_double_forked_grandchildren_are_killed() -> None:
    result = await execute([PY, "-c", STUBBORN], timeout=1)
    assert result.timed_out
    assert result.exit_code == -signal.SIGKILL  # SIGTERM was ignored: killed after the grace period
    pids = dict(line.split() for line in result.output.splitlines())
    assert set(pids) == {"pgid", "leader", "child", "grandchild"}, result.output
    assert pids["pgid"] == pids["leader"]  # the command leads its own group
    assert result.duration < timedelta(seconds=1 + 2 + 6)
    with pytest.raises(ProcessLookupError):
        os.killpg(int(pids["pgid"]), 0)
    for name in ("leader", "child", "grandchild"):
        with pytest.raises(ProcessLookupError):
            os.kill(int(pids[name]), 0)


async def test_what_a_finished_command_leaves_running_is_stopped_too() -> None:
    started = time.monotonic()
    result = await execute(
        ["sh", "-c", 'echo "$$"; sleep 600 & sleep 600 >/dev/null 2>&1 </dev/null & echo started'],
        timeout=30,
    )
    assert result.exit_code == 0 and not result.timed_out
    assert time.monotonic() - started < 10  # not the 30 s timeout, although a sleep holds the pipe
    pgid = int(result.output.split()[0])
    assert group_gone(pgid)


ESCAPEES = r"""
import os, subprocess, sys, time
beat = "import os, sys, time\nwhile True:\n    open(sys.argv[1], 'a').write('.')\n    time.sleep(0.05)\n"
# A child that leaves the command's session and process group with setsid …
child = subprocess.Popen([sys.executable, "-c", beat, sys.argv[1] + ".setsid"], start_new_session=True)
print("setsid", child.pid, flush=True)
# … and a double fork whose grandchild calls setsid too: orphaned, in a session of its own.
if os.fork() == 0:
    if os.fork() == 0:
        os.setsid()
        print("double", os.getpid(), flush=True)
        os.execv(sys.executable, [sys.executable, "-c", beat, sys.argv[1] + ".double"])
    os._exit(0)
for name in ("setsid", "double"):
    while not os.path.exists(f"{sys.argv[1]}.{name}"):
        time.sleep(0.01)
print("working", flush=True)
if sys.argv[2] == "hang":
    time.sleep(600)
"""


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the child subreaper is Linux's prctl")
@pytest.mark.parametrize("ending", ["hang", "exit"])
async def test_setsid_and_double_forked_descendants_die_with_their_step(tmp_path: Path, ending: str) -> None:
    """At the timeout (hang) and when the command exits on its own (exit), nothing it started works on."""
    beats = tmp_path / "beat"
    result = await execute([PY, "-c", ESCAPEES, str(beats), ending], timeout=3)
    assert "working" in result.output, result.output
    assert result.timed_out == (ending == "hang")
    assert result.exit_code == (-signal.SIGTERM if ending == "hang" else 0)
    pids = {name: int(pid) for name, pid in (line.split() for line in result.output.splitlines()[:2])}
    assert set(pids) == {"setsid", "double"}
    assert all(_gone(pid) for pid in pids.values()), pids
    sizes = {name: (tmp_path / f"beat.{name}").stat().st_size for name in pids}
    await asyncio.sleep(0.3)  # six heartbeats' worth: a survivor would have written again
    assert {name: (tmp_path / f"beat.{name}").stat().st_size for name in pids} == sizes


async def test_cancelling_a_run_kills_its_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "pgid"
    code = f"import os, time; open({str(pidfile)!r}, 'w').write(str(os.getpgid(0))); time.sleep(600)"
    task = asyncio.create_task(execute([PY, "-c", code], timeout=600))
    for _ in range(200):
        if pidfile.exists() and pidfile.read_text():
            break
        await asyncio.sleep(0.05)
    pgid = int(pidfile.read_text())
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 10
    while not group_gone(pgid) and time.monotonic() < deadline:  # noqa: ASYNC110 — polls the kernel
        await asyncio.sleep(0.05)
    assert group_gone(pgid)


# --- output ---------------------------------------------------------------------------------------


async def test_output_keeps_the_head_and_the_tail_and_counts_the_rest() -> None:
    code = "import sys; sys.stdout.write('BEGIN' + 'x' * 100_000 + 'END')"
    result = await execute([PY, "-c", code], max_output_bytes=1000)
    assert result.output_bytes == 100_008 and result.truncated
    assert result.output.startswith("BEGIN" + "x" * 495)
    assert result.output.endswith("x" * 497 + "END")
    assert "\n… 99008 bytes omitted …\n" in result.output
    untouched = await execute([PY, "-c", "import sys; sys.stdout.write('é' * 400)"], max_output_bytes=1000)
    assert untouched.output == "é" * 400 and not untouched.truncated and untouched.output_bytes == 800


MEASURE = r"""
import asyncio, json, sys, time
from bot.runbooks.execute import Redactor, run_command

WRITE = [sys.executable, "-c", "import sys; sys.stdout.write('x' * 50_000_000)"]

def peak():
    with open("/proc/self/status") as status:
        return next(int(l.split()[1]) * 1024 for l in status if l.startswith("VmHWM:"))

def reset_peak():
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")   # Linux >= 4.0: the peak restarts from the current RSS
    except OSError:
        pass

async def main(mode):
    env = {"PATH": "/usr/bin:/bin"}
    await run_command([sys.executable, "-c", "print(1)"], timeout=10, cwd=None, env=env,
                      max_output_bytes=1_000_000, redact=Redactor([]))   # warm up the machinery
    reset_peak()
    before = peak()
    started = time.monotonic()
    if mode == "bounded":
        result = await run_command(WRITE, timeout=60, cwd=None, env=env, max_output_bytes=1_000_000,
                                   redact=Redactor(["secret-value"]))
        facts = {"output_bytes": result.output_bytes, "truncated": result.truncated,
                 "length": len(result.output), "exit_code": result.exit_code, "timed_out": result.timed_out}
    else:   # what a naive implementation does: keep everything
        proc = await asyncio.create_subprocess_exec(*WRITE, stdout=asyncio.subprocess.PIPE)
        data, _ = await proc.communicate()
        facts = {"output_bytes": len(data)}
    facts.update(growth=peak() - before, seconds=time.monotonic() - started)
    print(json.dumps(facts))

asyncio.run(main(sys.argv[1]))
"""


def measure(mode: str) -> dict[str, Any]:
    done = subprocess.run(
        [PY, "-c", MEASURE, mode],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    facts: dict[str, Any] = json.loads(done.stdout)
    return facts


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc (Linux)")
def test_fifty_megabytes_of_output_return_promptly_in_bounded_memory() -> None:
    bounded = measure("bounded")
    assert bounded["exit_code"] == 0 and not bounded["timed_out"]
    assert bounded["output_bytes"] == FIFTY_MB and bounded["truncated"]
    assert bounded["length"] <= 1_000_000 + 100
    assert bounded["seconds"] < 10
    assert bounded["growth"] < RSS_BOUND, f"peak RSS grew by {bounded['growth'] / 1e6:.1f} MB"
    naive = measure("naive")  # the same measurement sees a naive read: it does measure what it claims
    assert naive["output_bytes"] == FIFTY_MB
    assert naive["growth"] > FIFTY_MB, f"naive read grew by {naive['growth'] / 1e6:.1f} MB"


# --- redaction ------------------------------------------------------------------------------------

SHAPES = {
    "slack bot token": "xoxb-1234567890-0987654321-AbCdEfGhIjKlMnOpQrStUv",
    "slack user token": "xoxp-1234567890-0987654321-abcdef",
    "slack app token": "xapp-1-A0123456789-1234567890-abcdef0123456789",
    "github token": "ghp_" + "a1B2c3D4e5" * 4,
    "github fine-grained": "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
    "aws key id": "AKIAIOSFODNN7EXAMPLE",
}


def test_redactor_hides_secret_values_and_token_shapes() -> None:
    redact = Redactor(["hunter2-db-password", "abc", ""])
    text = "\n".join(
        [
            "connected with hunter2-db-password (twice: hunter2-db-password)",
            *(f"{label}: {token}" for label, token in SHAPES.items()),
            "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-nature_x",
            "curl -u user:pw -H 'Authorization: Basic dXNlcjpwYXNzd29yZA=='",
            'password=s3cr3t&user=bob token: tok_12345 client_secret="cs-999"',
            '{"api_key": "k-123456", "access_token": "at-7890"}',
            "DATABASE_URL=postgres://app:pg-pass-42@db.internal:5432/app",
            "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAx1x2x3\nabc==\n-----END RSA PRIVATE KEY-----",
            "abc is too short to redact; status ok",
        ]
    )
    out = redact(text)
    for leaked in (
        "hunter2-db-password",
        *SHAPES.values(),
        "eyJhbGciOiJIUzI1NiJ9",
        "dXNlcjpwYXNzd29yZA",
        "s3cr3t",
        "tok_12345",
        "cs-999",
        "k-123456",
        "at-7890",
        "pg-pass-42",
        "MIIEpAIBAAKCAQEAx1x2x3",
    ):
        assert leaked not in out, leaked
    assert "connected with [redacted] (twice: [redacted])" in out
    assert "Authorization: Bearer [redacted]" in out
    assert "password=[redacted]&user=bob" in out
    assert "postgres://app:[redacted]@db.internal:5432/app" in out
    assert "abc is too short to redact; status ok" in out


def test_redactor_hides_spaced_keys_authorization_headers_and_url_credentials() -> None:
    redact = Redactor([])
    text = "\n".join(
        [
            "aws_secret_access_key    wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "db_password hunter2-spaced",
            "Authorization: token gho-not-a-known-shape-123",
            "proxy-authorization: Digest username=x, response=6629fae49393a05397450978507c4ef1",
            "curl -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261207/eu/s3/aws4_request'",
            "git clone https://x0x0secrettoken1234567@github.example.org/org/repo.git",
            "redis://:redis-pw-77@cache:6379/0",
            "GET /file?X-Amz-Signature=deadbeefcafe&X-Amz-Credential=AKIDEXAMPLE%2F2026",
            "tests passed: 12 failed: 0 primary key id, exit code 0",
        ]
    )
    out = redact(text)
    for leaked in (
        "wJalrXUtnFEMI",
        "hunter2-spaced",
        "gho-not-a-known-shape-123",
        "6629fae49393a05397450978507c4ef1",
        "Credential=AKID",
        "x0x0secrettoken1234567",
        "redis-pw-77",
        "deadbeefcafe",
        "AKIDEXAMPLE",
    ):
        assert leaked not in out, (leaked, out)
    assert "aws_secret_access_key    [redacted]" in out
    assert "Authorization: token [redacted]" in out
    assert "https://[redacted]@github.example.org/org/repo.git" in out
    assert "tests passed: 12 failed: 0 primary key id, exit code 0" in out  # ordinary words stay


def test_redaction_stays_linear_on_hostile_output() -> None:
    redact = Redactor(["some-secret-value"])
    for text in (
        "a-" * 200_000,
        "x" * 500_000,
        "a://" * 100_000,
        "a_key " * 80_000,
        "Authorization: " * 30_000,
    ):
        started = time.monotonic()
        redact(text)
        assert time.monotonic() - started < 3, text[:20]


def test_values_of_secret_looking_env_names_are_secrets() -> None:
    environ = {
        "DB_PASS": "v-db-pass",
        "APP_PASSWORD": "v-app-password",
        "CLIENT_SECRET": "v-client-secret",
        "GH_TOKEN": "v-gh-token",
        "STRIPE_KEY": "v-stripe-key",
        "PGPASSWORD": "v-pgpassword",
        "HOME": "/root",
        "KEYBOARD_LAYOUT": "us",
        "PASSENGER_COUNT": "4",
    }
    assert sorted(secret_values(environ)) == sorted(v for v in environ.values() if v.startswith("v-"))


async def test_secret_env_values_are_redacted_from_command_output(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {
        **ENV,
        "HOME": "/root",
        "REDISCLI_AUTH": "redis-pass-0042",
        "KUBECONFIG": "/etc/kube/config",
        "SLACK_BOT_TOKEN": "xoxb-not-for-steps-1234",
        "UNRELATED": "value",
    }
    step = command_step(
        [PY, "-c", "import os, json; print(json.dumps(dict(os.environ)))"],
        {},
        env_passthrough=["REDISCLI_AUTH", "KUBECONFIG"],
        env={"MODE": "read-only"},
    )
    env = step_env(step, ["REDISCLI_AUTH"], environ)
    assert set(env) == {"PATH", "HOME", "LANG", "REDISCLI_AUTH", "KUBECONFIG", "MODE"}
    redact = Redactor(environ[name] for name in ["REDISCLI_AUTH"])
    result = await execute(argv(step, {}), env=env, redact=redact)
    seen = json.loads(result.output)
    assert seen["REDISCLI_AUTH"] == "[redacted]"
    assert seen["KUBECONFIG"] == "/etc/kube/config" and seen["MODE"] == "read-only"
    assert "SLACK_BOT_TOKEN" not in seen and "UNRELATED" not in seen
    assert "redis-pass-0042" not in result.output
    with pytest.raises(ValueError, match="REDISCLI_AUTH looks like a credential"):
        step_env(step, [], environ)  # not declared secret: its value would be posted unredacted
    fixed = command_step(["env"], {}, env={"API_TOKEN": "in-the-file"})
    with pytest.raises(ValueError, match="API_TOKEN looks like a credential"):
        step_env(fixed, [], environ)
    assert step_env(fixed, ["API_TOKEN"], environ)["API_TOKEN"] == "in-the-file"


async def test_a_private_key_cut_by_truncation_is_still_redacted() -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "QUJD" * 600 + "\n-----END OPENSSH PRIVATE KEY-----\n"
    code = f"import sys; sys.stdout.write({key!r})"
    result = await execute([PY, "-c", code], max_output_bytes=1000)
    assert result.truncated
    assert "QUJD" not in result.output
    assert result.output.count("[redacted]") == 2


# --- http steps -----------------------------------------------------------------------------------


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "method": request.method})

    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=503, text="upstream down")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(30)
        return web.Response(text="late")

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("/ok")

    async def big(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(160):  # 10 MiB, the word only at the very end
            await response.write(b"." * 65536)
        await response.write(b"needle")
        return response

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.Response(text=f"{request.headers.get('Content-Type')}: {body}")

    async def leaky(request: web.Request) -> web.Response:
        return web.Response(text="debug: token=abcd1234efgh and " + request.headers.get("X-Key", ""))

    app = web.Application()
    for path, handler in (("/ok", ok), ("/fail", failing), ("/slow", slow), ("/redirect", redirect)):
        app.router.add_route("*", path, handler)
    app.router.add_get("/big", big)
    app.router.add_get("/leaky", leaky)
    app.router.add_post("/echo", echo)
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


def http_step(url: str, **extra: Any) -> Step:
    return Step(id="probe", kind="http", title="Probe", url=url, **extra)


async def test_http_status_and_body_expectations(server: str) -> None:
    passed = await run_http(http_step(f"{server}/ok", expect_body='"status": "ok"'), NO_SECRETS)
    assert passed.passed
    assert re.fullmatch(r"HTTP 200 in \d+ ms: pass", passed.summary)
    assert f"GET {server}/ok" in passed.detail and '"status": "ok"' in passed.detail
    head = await run_http(http_step(f"{server}/ok", method="HEAD"), NO_SECRETS)
    assert head.passed
    post = await run_http(http_step(f"{server}/ok", method="POST", expect_body="POST"), NO_SECRETS)
    assert post.passed
    failed = await run_http(http_step(f"{server}/fail"), NO_SECRETS)
    assert not failed.passed
    assert re.fullmatch(r"HTTP 503 in \d+ ms, expected 200: fail", failed.summary)
    assert "upstream down" in failed.detail
    expected_503 = await run_http(http_step(f"{server}/fail", expect_status=503), NO_SECRETS)
    assert expected_503.passed
    wrong_body = await run_http(http_step(f"{server}/ok", expect_body="healthy"), NO_SECRETS)
    assert not wrong_body.passed and "the body lacks 'healthy'" in wrong_body.summary


async def test_http_post_sends_the_body_written_in_the_runbook(server: str) -> None:
    step = http_step(
        f"{server}/echo",
        method="POST",
        body='{"action": "drain", "node": "db-2"}',
        headers={"Content-Type": "application/json"},
        expect_body='application/json: {"action": "drain", "node": "db-2"}',
    )
    result = await run_http(step, NO_SECRETS)
    assert result.passed, result.detail


def test_a_body_is_for_post_only_and_bounded() -> None:
    probe = {"id": "x", "kind": "http", "title": "X", "url": "http://h/"}
    with pytest.raises(ValidationError) as get:
        Step.model_validate({**probe, "body": "{}"})
    assert "is only sent with method: POST (this step uses GET)" in str(get.value)
    with pytest.raises(ValidationError, match="must be at most 64 KiB"):
        Step.model_validate({**probe, "method": "POST", "body": "." * 70_000})


async def test_http_redirects_are_not_followed(server: str) -> None:
    result = await run_http(http_step(f"{server}/redirect"), NO_SECRETS)
    assert not result.passed
    assert "HTTP 302" in result.summary and "redirect to /ok not followed" in result.summary


async def test_http_body_is_read_only_up_to_64_kib(server: str) -> None:
    started = time.monotonic()
    result = await run_http(http_step(f"{server}/big", expect_body="needle"), NO_SECRETS)
    assert not result.passed
    assert "the first 64 KiB of the body lacks 'needle'" in result.summary
    assert len(result.detail) < 3000
    assert time.monotonic() - started < 5


async def test_http_timeout_and_refused_connection(server: str) -> None:
    slow = await run_http(http_step(f"{server}/slow", timeout="1s"), NO_SECRETS)
    assert not slow.passed and slow.summary == "no answer within 1 s: fail"
    assert timedelta(seconds=1) <= slow.duration < timedelta(seconds=3)
    with refusing_port() as port:
        refused = await run_http(http_step(f"http://127.0.0.1:{port}/healthz"), NO_SECRETS)
    assert not refused.passed
    assert refused.summary.startswith(f"cannot connect to 127.0.0.1:{port}: ")
    assert "refused" in refused.summary.lower() and refused.summary.endswith(": fail")


async def test_http_output_is_redacted(server: str) -> None:
    step = http_step(f"{server}/leaky", headers={"X-Key": "header-secret-77"})
    result = await run_http(step, Redactor(["header-secret-77"]))
    assert result.passed
    assert "abcd1234efgh" not in result.detail and "header-secret-77" not in result.detail
    assert "token=[redacted]" in result.detail


# --- check steps against a real Prometheus ------------------------------------------------------

CHECKOUT_500 = 'sum(rate(http_requests_total{service="checkout",code="500"}[5m]))'
CHECKOUT_RATIO = (
    'sum(rate(http_requests_total{service="checkout",code="500"}[5m]))'
    ' / sum(rate(http_requests_total{service="checkout"}[5m]))'
)


def check_step(query: str, condition: str) -> Step:
    return Step(id="check", kind="check", title="Check", query=query, condition=condition)


@pytest.fixture
async def client(prometheus: RunningPrometheus) -> AsyncIterator[PrometheusClient]:
    client = PrometheusClient(prometheus.url)
    try:
        yield client
    finally:
        client.close()


async def test_check_passes_and_fails_on_the_value_prometheus_computes(
    client: PrometheusClient, prometheus: RunningPrometheus
) -> None:
    at, window = prometheus.at, timedelta(minutes=5)
    rate = prometheus.data.rate("http_requests_total", window, at, service="checkout", code="500")
    assert rate is not None and rate > 0
    passed = await run_check(check_step(CHECKOUT_500, "> 0"), client, at)
    assert passed.passed and passed.summary == f"{rate:.4g} > 0: pass"
    value = float(passed.detail.rsplit("result: ", 1)[1])
    assert value == pytest.approx(rate, rel=1e-9)
    failed = await run_check(check_step(CHECKOUT_500, f"< {rate / 2}"), client, at)
    assert not failed.passed and failed.summary == f"{rate:.4g} < {rate / 2:g}: fail"
    ratio = prometheus.data.availability_ratio("checkout", window, at)
    assert ratio is not None and ratio > 0.01  # the synthetic fast burn in the last hour
    burning = await run_check(check_step(CHECKOUT_RATIO, "< 0.01"), client, at)
    assert not burning.passed and burning.summary == f"{ratio:.4g} < 0.01: fail"
    assert (await run_check(check_step(CHECKOUT_RATIO, ">= 0.01"), client, at)).passed


async def test_check_without_data_or_with_a_bad_query_fails_with_the_reason(
    client: PrometheusClient, prometheus: RunningPrometheus
) -> None:
    nothing = check_step('sum(rate(http_requests_total{service="nowhere"}[5m]))', "== 0")
    result = await run_check(nothing, client, prometheus.at)
    assert not result.passed and result.summary == "no data: fail"
    stale = check_step('sum(rate(http_requests_total{service="batch"}[5m])) / 0', "< 1")
    assert (await run_check(stale, client, prometheus.at)).summary == "no data: fail"
    broken = await run_check(check_step("sum(rate(http_requests_total[5m]", "< 1"), client, prometheus.at)
    assert not broken.passed
    assert broken.summary.startswith("query error: bad_data: ") and broken.summary.endswith(": fail")
    several = await run_check(check_step("http_requests_total", "> 0"), client, prometheus.at)
    assert not several.passed and "series" in several.summary


async def test_check_without_prometheus_or_unreachable(unreachable_prometheus_url: str) -> None:
    step = check_step(CHECKOUT_500, "> 0")
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    missing = await run_check(step, None, now)
    assert not missing.passed and "Prometheus is not configured" in missing.summary
    client = PrometheusClient(unreachable_prometheus_url, timeout=2)
    try:
        down = await run_check(step, client, now)
    finally:
        client.close()
    assert not down.passed
    assert down.summary.startswith("Prometheus unreachable") and down.summary.endswith(": fail")


def test_conditions_parse_or_explain_themselves() -> None:
    assert parse_condition("< 0.05") == ("<", 0.05)
    assert parse_condition("<=1") == ("<=", 1.0)
    assert parse_condition(" >= 0.99 ") == (">=", 0.99)
    assert parse_condition("== 0") == ("==", 0.0)
    assert parse_condition("!= -1.5e3") == ("!=", -1500.0)
    for bad in ("", "0.05", "< five", "=< 1", "< 1 or > 2", "≤ 1"):
        with pytest.raises(ValueError, match="must be a comparison operator"):
            parse_condition(bad)
