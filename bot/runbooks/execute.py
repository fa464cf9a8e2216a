"""Running a command step: no shell, its own process group, a hard timeout, bounded output, redaction.

- `asyncio.create_subprocess_exec` with the argv from `bot.runbooks.params.argv`: no shell ever parses it.
- stdin is /dev/null (nothing can wait for input); stderr is merged into stdout, in order.
- Every command runs under a small supervisor (`bot/runbooks/supervise.py`) that is a child subreaper
  (`prctl(PR_SET_CHILD_SUBREAPER)`): whatever the command starts stays below it, even a process that left
  the command's session with `setsid` or was double-forked, because orphans are re-parented to the nearest
  subreaper instead of to init. When the command exits, or at the timeout, the supervisor stops every
  descendant (SIGTERM, then SIGKILL after half of `TERM_GRACE`), reaps them, and exits the way the command
  did. (A cgroup would do the same, but needs a delegated cgroup v2 subtree few deployments grant; the
  subreaper needs no privilege.)
- The command itself leads a new session and process group; the supervisor leads another, which gets
  SIGTERM at the timeout and SIGKILL after `TERM_GRACE` if the supervisor has not finished by then.
  Afterwards nothing is left, zombies included (we reap those re-parented to us when the bot is PID 1).
- Output is read incrementally and only `max_output_bytes` are kept: the first half and the last half,
  with a "… N bytes omitted …" marker between them; the rest is counted and dropped, so a command printing
  50 MB never holds more than that (plus one 64 KiB read) in memory.
- The kept output is decoded as UTF-8 (invalid bytes become U+FFFD) and redacted before anyone sees it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.runbooks.fields import ALWAYS_PASSED_ENV, CREDENTIAL_NAME, OWN_SETTINGS
from bot.runbooks.schema import Step
from bot.runbooks.supervise import live_processes

log = logging.getLogger(__name__)

REDACTED = "[redacted]"
SECRET_MIN_LENGTH = 4
"""Shorter values are not redacted: "on" or "1" would blank out half of any output."""
CHUNK = 64 * 1024
TERM_GRACE = 2.0
"""Seconds between SIGTERM and SIGKILL."""
_POLL = 0.05
_DRAIN = 0.5
"""After the program exited: how long the pipe may still deliver output before leftovers are stopped."""
_KILL_WAIT = 2.0
_REAP_WAIT = 5.0
"""Orphaned zombies are reaped by init, which may poll (about 2 s in some containers)."""


# --- redaction ------------------------------------------------------------------------------------

_PRIVATE_KEY = r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----"
_PRIVATE_KEY_END = r"-----END [A-Z0-9 ]*PRIVATE KEY-----"
_SHAPES: list[tuple[re.Pattern[str], str]] = [
    # a whole key block; an unterminated one (cut by truncation) to the end of the text …
    (re.compile(rf"{_PRIVATE_KEY}.*?(?:{_PRIVATE_KEY_END}|\Z)", re.DOTALL), REDACTED),
    # … and the end of a key whose beginning was cut off
    (re.compile(rf"\A[A-Za-z0-9+/=\s]*?{_PRIVATE_KEY_END}", re.DOTALL), REDACTED),
    (re.compile(r"\bxox[abpres]-[A-Za-z0-9-]{6,}"), REDACTED),  # Slack bot/user/app/refresh tokens
    (re.compile(r"\bxapp-[A-Za-z0-9-]{6,}"), REDACTED),  # Slack app-level tokens
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),  # GitHub tokens
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), REDACTED),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),  # AWS access key ids
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{4,}", re.IGNORECASE), rf"\1 {REDACTED}"),
    # user:password@ in URLs (postgres://app:s3cret@db/…), and a long token as the user (https://TOKEN@host)
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,31}://[^\s:/@]*:)[^\s@/]+(@)"), rf"\1{REDACTED}\2"),
    (re.compile(r"(\b[A-Za-z][A-Za-z0-9+.-]{0,31}://)[^\s:/@]{16,}(@)"), rf"\1{REDACTED}\2"),
    # Authorization / Proxy-Authorization headers, whatever the scheme (the scheme word is kept)
    (
        re.compile(
            r"""(\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?(?:[A-Za-z0-9-]+ +)?)[^\s'"][^\r\n'"]*""", re.I
        ),
        rf"\1{REDACTED}",
    ),
    # aws_secret_access_key  wJalr…, db_password hunter2: a compound secret-looking name, then spaces
    (
        re.compile(
            r"((?<=[A-Za-z0-9])[_.-]"  # only the name's end is matched: linear on any input
            r"(?:password|passwd|pass|pwd|token|secret|key|passphrase|credentials?)"
            r"""["']?[ \t]+["']?)(?![=:\[])[^\s"'&,;]+""",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
    # password=…, "token": "…", client_secret: …, api_key=…
    (
        re.compile(
            r"((?:password|passwd|pwd|token|secret|api[_-]?key|access[_-]?key|private[_-]?key|signature"
            r"|\b[A-Za-z0-9]+_pass\b|credentials?)"
            r"""[A-Za-z0-9_-]*["']?\s*[=:]\s*["']?)[^\s"'&,;]+""",
            re.IGNORECASE,
        ),
        rf"\1{REDACTED}",
    ),
]


SECRET_NAME = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|AUTH"
    r"|(?:^|_)(?:PASS|PWD|KEY)$",
    re.IGNORECASE,
)
"""Environment names whose values are treated as secrets (DB_PASS, *_PASSWORD, *_SECRET, *_TOKEN, *_KEY…),
whether or not `runbooks.secret_env` lists them."""


def secret_values(*environs: Mapping[str, str]) -> list[str]:
    """The values of every variable whose name looks secret: redacted from what a step prints, even when
    nobody listed the name (a step that cats a config file, or prints its own environment)."""
    return [value for environ in environs for name, value in environ.items() if SECRET_NAME.search(name)]


class Redactor:
    """Replaces secret values (from `runbooks.secret_env`) and common token shapes with `[redacted]`.

    Shapes: Slack `xox[abpr]-…`/`xapp-…`, GitHub `ghp_…`/`github_pat_…`, AWS `AKIA…`, `Bearer …`/`Basic …`,
    `password=…`/`token=…`/`secret=…`/`api_key=…` values (also as JSON or YAML), URL passwords, and
    `-----BEGIN … PRIVATE KEY-----` blocks.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        values = sorted({s for s in secrets if s and len(s) >= SECRET_MIN_LENGTH}, key=len, reverse=True)
        self._secrets = re.compile("|".join(map(re.escape, values))) if values else None

    def __call__(self, text: str) -> str:
        if self._secrets is not None:
            text = self._secrets.sub(REDACTED, text)
        for pattern, replacement in _SHAPES:
            text = pattern.sub(replacement, text)
        return text


# --- environment ----------------------------------------------------------------------------------


def step_env(step: Step, secret_env: Iterable[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The process environment: PATH, HOME and LANG, the step's `env_passthrough`, then its fixed `env`.

    Nothing else of the bot's environment reaches a command. Raises ValueError for a name (passed through or
    fixed) that is one of the bot's own settings (SLACK_*, INCIDENTBOT_*), or that looks like a credential but
    is not in `secret_env` (its value would not be redacted from the output posted to the channel). The
    caller's Redactor must hold the values of every `secret_env` name, from the environment and `step.env`.
    """
    secrets = set(secret_env)
    for name in [*step.env_passthrough, *step.env]:
        if name.upper().startswith(OWN_SETTINGS):
            raise ValueError(f"{name} is one of the bot's own settings and is never passed to a step")
        if CREDENTIAL_NAME.search(name) and name not in secrets:
            raise ValueError(
                f"{name} looks like a credential: list it in runbooks.secret_env (so its value is redacted "
                "from the output) before a step may use it"
            )
    env = {name: environ[name] for name in ALWAYS_PASSED_ENV if name in environ}
    env.setdefault("PATH", os.defpath)
    env.update((name, environ[name]) for name in step.env_passthrough if name in environ)
    env.update(step.env)
    return env


# --- running --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CommandResult:
    exit_code: int | None
    """The program's exit status; negative when a signal ended it (-15 SIGTERM, -9 SIGKILL); None if it
    never started."""
    timed_out: bool
    duration: timedelta
    output: str
    """stdout and stderr interleaved, decoded, truncated to the head and tail, redacted."""
    output_bytes: int
    """Everything the command wrote, kept or not."""
    truncated: bool
    error: str | None = None
    """Why the command could not start (not found, not executable, no such working directory)."""


class _Output:
    """The first half and the last half of a byte stream of any length, and its total size."""

    def __init__(self, limit: int) -> None:
        self.head_limit = max(limit, 0) // 2
        self.tail_limit = max(limit, 0) - self.head_limit
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            excess = len(self.tail) - self.tail_limit
            if excess > 0:
                del self.tail[:excess]  # deleting from the front of a bytearray does not copy

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def text(self, redact: Callable[[str], str]) -> str:
        if not self.truncated:
            return redact(bytes(self.head + self.tail).decode("utf-8", "replace"))
        omitted = self.total - len(self.head) - len(self.tail)
        head = redact(bytes(self.head).decode("utf-8", "replace"))
        tail = redact(bytes(self.tail).decode("utf-8", "replace"))
        return f"{head}\n… {omitted} bytes omitted …\n{tail}"


async def _pump(stream: asyncio.StreamReader, out: _Output) -> None:
    while chunk := await stream.read(CHUNK):
        out.feed(chunk)


def _live_members(pgid: int) -> int | None:
    """Processes of the group that are still running (zombies excluded); None where /proc is missing."""
    processes = live_processes()
    return None if processes is None else sum(group == pgid for _, _, group in processes)


def _exists(pgid: int) -> bool:
    """Whether any process (zombies included) is still in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _alive(pgid: int) -> bool:
    live = _live_members(pgid)
    return _exists(pgid) if live is None else live > 0


def _signal(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _reap(pgid: int) -> None:
    """Collect the group's zombies that are our children (orphans re-parented to us when we are PID 1)."""
    while True:
        try:
            pid, _ = os.waitpid(-pgid, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True


async def _stop_group(proc: asyncio.subprocess.Process, pgid: int, grace: float) -> None:
    """SIGTERM, then SIGKILL, whatever of the group still runs; then wait until the group is gone."""
    signalled = False
    if _alive(pgid):
        signalled = True
        _signal(pgid, signal.SIGTERM)
        if not await _until(lambda: not _alive(pgid), grace):
            _signal(pgid, signal.SIGKILL)
            await _until(lambda: not _alive(pgid), _KILL_WAIT)
    # The leader is reaped by asyncio's child watcher; only then may we reap by group (else the watcher
    # would find its child gone and report 255).
    await _until(lambda: proc.returncode is not None, _KILL_WAIT)
    if proc.returncode is None:
        return
    _reap(pgid)
    if signalled and not await _until(lambda: (_reap(pgid), not _exists(pgid))[1], _REAP_WAIT):
        log.warning("process group %d of a runbook command is still present after SIGKILL", pgid)


def _close(proc: asyncio.subprocess.Process) -> None:
    """Close the pipes even when something outside the group still holds their other end."""
    transport = getattr(proc, "_transport", None)
    if transport is None:
        return
    if proc.returncode is not None:
        transport.close()
        return
    # Still running (the step was cancelled): closing the transport would SIGKILL the supervisor before
    # it has killed what is below it; close only the pipes, and let it finish and be reaped by asyncio.
    for fd in (0, 1, 2):
        pipe = transport.get_pipe_transport(fd)
        if pipe is not None:
            pipe.close()


SUPERVISOR = str(Path(__file__).with_name("supervise.py"))


def _cannot_start(argv: list[str], cwd: str | None, env: Mapping[str, str]) -> str | None:
    """Why `argv` cannot start, found before the supervisor is (it would only see an exit code)."""
    if cwd is not None and not os.path.isdir(cwd):
        return f"working directory {cwd} does not exist or is not a directory"
    program = argv[0]
    if "/" in program:
        path = program if os.path.isabs(program) or cwd is None else os.path.join(cwd, program)
        if not os.path.exists(path):
            return f"{program}: not found (is it installed, and on PATH?)"
        if os.path.isdir(path) or not os.access(path, os.X_OK):
            return f"{program}: permission denied (not executable)"
        return None
    search = env.get("PATH", os.defpath)
    if shutil.which(program, path=search) is not None:
        return None
    for folder in search.split(os.pathsep):
        if os.path.isfile(os.path.join(folder or ".", program)):
            return f"{program}: permission denied (not executable)"
    return f"{program}: not found (is it installed, and on PATH?)"


def _start_error(argv: list[str], cwd: str | None, exc: OSError) -> str:
    if cwd is not None and exc.filename == cwd:
        return f"working directory {cwd} does not exist or is not a directory"
    if isinstance(exc, FileNotFoundError):
        return f"{argv[0]}: not found (is it installed, and on PATH?)"
    if isinstance(exc, PermissionError):
        return f"{argv[0]}: permission denied (not executable)"
    return f"{argv[0]}: {exc.strerror or exc}"


async def run_command(
    argv: list[str],
    *,
    timeout: float,  # noqa: ASYNC109 — the step's own timeout, part of the API; the group is killed at it
    cwd: str | None,
    env: Mapping[str, str],
    max_output_bytes: int,
    redact: Redactor,
) -> CommandResult:
    """Run `argv` (no shell) with a hard `timeout` in seconds; see the module docstring for the guarantees."""
    if not argv:
        raise ValueError("argv must not be empty")
    started = time.monotonic()
    problem = _cannot_start(argv, cwd, env)
    if problem is not None:
        return CommandResult(
            None, False, timedelta(seconds=time.monotonic() - started), "", 0, False, problem
        )
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",  # the supervisor imports only the standard library; no PYTHON* variable changes that
            SUPERVISOR,
            str(TERM_GRACE / 2),
            "--",
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
            limit=CHUNK,
        )
    except (OSError, ValueError) as exc:
        error = _start_error(argv, cwd, exc) if isinstance(exc, OSError) else f"cannot start: {exc}"
        return CommandResult(None, False, timedelta(seconds=time.monotonic() - started), "", 0, False, error)
    pgid = proc.pid  # start_new_session: the supervisor leads its own session and process group
    out = _Output(max_output_bytes)
    assert proc.stdout is not None
    reader = asyncio.create_task(_pump(proc.stdout, out))
    deadline = started + timeout
    timed_out = False
    try:
        while proc.returncode is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            if reader.done():
                await asyncio.sleep(min(_POLL, remaining))
            else:
                await asyncio.wait({reader}, timeout=min(_POLL, remaining))
        if not timed_out:
            await asyncio.wait({reader}, timeout=_DRAIN)
        await _stop_group(proc, pgid, TERM_GRACE)
        await asyncio.wait({reader}, timeout=_DRAIN)
    except BaseException:
        # Cancelled (the bot is stopping): the supervisor SIGKILLs everything below it at once and exits.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(proc.pid, signal.SIGUSR1)
        raise
    finally:
        if not reader.done():
            reader.cancel()
        _close(proc)
    if reader.done() and not reader.cancelled() and reader.exception() is not None:
        log.warning("reading a runbook command's output failed: %r", reader.exception())
    return CommandResult(
        exit_code=proc.returncode,
        timed_out=timed_out,
        duration=timedelta(seconds=time.monotonic() - started),
        output=out.text(redact),
        output_bytes=out.total,
        truncated=out.truncated,
    )
