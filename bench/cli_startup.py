"""Start-up of `incidentbot --help` and `--version` beside a bare interpreter (`python -c pass`).

Help and the version must answer at once on a small machine: they import the standard library and the
argument definitions only (`bot/cli/parsers.py`), never pydantic, SQLAlchemy or the server. Goal: within
10× a bare interpreter's start. Run: `.venv/bin/python bench/cli_startup.py [--runs 7]`; prints a table of
medians and the peak memory of each.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

GOAL = 10.0
BIN = Path(sys.executable).parent


def measure(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall seconds and the largest peak RSS (MiB) of `command` over `runs` runs."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    rows = [
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("incidentbot --help", [str(BIN / "incidentbot"), "--help"]),
        ("incidentbot --version", [str(BIN / "incidentbot"), "--version"]),
        ("incidentbot serve --help", [str(BIN / "incidentbot"), "serve", "--help"]),
    ]
    results = [(name, *measure(command, runs)) for name, command in rows]
    base = results[0][1]
    print(f"Median of {runs} runs; peak RSS is the largest child process seen so far.\n")
    print("| command | median (s) | × bare interpreter | peak RSS (MiB) |")
    print("| --- | ---: | ---: | ---: |")
    ok = True
    for name, seconds, peak in results:
        ratio = seconds / base
        ok = ok and (name.startswith("python") or ratio <= GOAL)
        print(f"| `{name}` | {seconds:.3f} | {ratio:.1f}× | {peak:.0f} |")
    print(f"\nGoal: help and version within {GOAL:g}× a bare interpreter: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
