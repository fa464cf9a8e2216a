"""The config file's `postmortems:` section."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.settings import Duration, Strict


class PostmortemsConfig(Strict):
    directory: Path = Path("postmortems")
    """Published post-mortems are written here (relative to the config file), one file per incident with a
    stable name, so a team can commit them."""
    draft_within: Duration = timedelta(hours=24)
    review_within: Duration = timedelta(hours=72)
    publish_within: Duration = timedelta(days=7)
    """After resolution; the Incident Commander is reminded in the channel when a stage is late."""
