"""The public status page: its settings, its records, and what the public reads (HTML, Statuspage v2
JSON, Atom/RSS, a static export). Knows nothing of Slack; the service in `bot/services/statuspage.py`
drives it."""
