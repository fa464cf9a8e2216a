"""Runs one runbook command as a child subreaper, so nothing it starts outlives its step.

`run_command` starts this file as a script (`python -I supervise.py GRACE -- argv…`; it imports only the
standard library). It marks itself a child subreaper with `prctl(PR_SET_CHILD_SUBREAPER)`, starts the
command in its own session, and waits. Every process the command starts, even one that left the command's
session with `setsid` or was double-forked, stays a descendant of this supervisor: when its parent exits,
the kernel re-parents it here instead of to init. So when the command exits, or when the bot's SIGTERM
arrives at the step's timeout, the supervisor finds every descendant in /proc, sends SIGTERM, waits
`GRACE` seconds, sends SIGKILL to what is left, reaps them all, and only then exits — with the command's
own exit status, or by the signal that ended the command, so the bot sees what the command did.

SIGUSR1 means "now": SIGKILL at once, no grace (the bot is stopping and cancelled the step).

Why not a cgroup: creating one needs a delegated cgroup v2 subtree, which a container or a systemd
service rarely grants; the subreaper needs no privilege. A process that is SIGKILLed together with this
supervisor (only the bot does that, and only after the grace) is the one way out; the bot's own
process-group kill is the second line for those in the command's group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
POLL = 0.02
USAGE = 2
CANNOT_START = 127


def become_subreaper() -> bool:
    """Linux only; elsewhere the command runs as before (its process group is still killed)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def live_processes() -> list[tuple[int, int, int]] | None:
    """(pid, parent pid, process group) of every process that is not a zombie, from /proc; None where
    there is no /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    found = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                data = stat.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp …
        if len(fields) > 2 and fields[0] not in (b"Z", b"X"):
            found.append((int(entry), int(fields[1]), int(fields[2])))
    return found


def descendants(root: int) -> list[int]:
    """Live (not zombie) processes below `root`."""
    children: dict[int, list[int]] = {}
    for pid, parent, _ in live_processes() or []:
        children.setdefault(parent, []).append(pid)
    found: list[int] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class Supervisor:
    def __init__(self, grace: float) -> None:
        self.grace = grace
        self.me = os.getpid()
        self.stop: int | None = None
        self.status: int | None = None
        self.command = 0

    def on_signal(self, signum: int, _frame: object) -> None:
        if self.stop != signal.SIGUSR1:
            self.stop = signum

    def reap(self) -> None:
        """Collect every exited child (the command, and orphans re-parented here); keep the command's."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.command:
                self.status = status

    def kill_all(self, sig: int) -> None:
        for pid in descendants(self.me):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)

    def settle(self, seconds: float) -> bool:
        """Reap until no descendant is left (True) or `seconds` have passed (False)."""
        deadline = time.monotonic() + seconds
        while True:
            self.reap()
            if not descendants(self.me):
                return True
            if time.monotonic() >= deadline or self.stop == signal.SIGUSR1:
                return False
            time.sleep(POLL)

    def run(self, argv: list[str]) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            signal.signal(sig, self.on_signal)
        become_subreaper()
        try:
            child = subprocess.Popen(argv, start_new_session=True)
        except OSError as exc:
            print(f"{argv[0]}: {exc.strerror or exc}", file=sys.stderr, flush=True)
            return CANNOT_START
        self.command = child.pid
        while self.status is None and self.stop is None:
            self.reap()
            if self.status is None and self.stop is None:
                time.sleep(POLL)
        # The command has exited (or time is up): nothing it started may stay.
        if self.stop != signal.SIGUSR1:
            self.kill_all(signal.SIGTERM)
            self.settle(self.grace)
        while descendants(self.me):
            self.kill_all(signal.SIGKILL)
            self.settle(1.0)
        self.reap()
        return self.exit()

    def exit(self) -> int:
        status = self.status
        if status is None:  # never reaped (cannot happen after the loop above, but do not hang)
            return CANNOT_START
        if os.WIFSIGNALED(status):  # end the same way, so the bot reads -SIGTERM / -SIGKILL as before
            sig = os.WTERMSIG(status)
            if sig not in (signal.SIGKILL, signal.SIGSTOP):
                signal.signal(sig, signal.SIG_DFL)
                signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
            os.kill(self.me, sig)
            time.sleep(1)
        return os.waitstatus_to_exitcode(status)


def main(argv: list[str]) -> int:
    if len(argv) < 4 or argv[2] != "--":
        print("usage: supervise.py GRACE_SECONDS -- PROGRAM [ARG…]", file=sys.stderr)
        return USAGE
    return Supervisor(float(argv[1])).run(argv[3:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
