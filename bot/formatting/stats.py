"""The two percentiles the reports show, with one definition so every report means the same by them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta


def median(values: Sequence[timedelta]) -> timedelta:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def p90(values: Sequence[timedelta]) -> timedelta:
    """Nearest rank: the smallest sample with at least 90 % of the samples at or under it."""
    ordered = sorted(values)
    return ordered[math.ceil(0.9 * len(ordered)) - 1]
