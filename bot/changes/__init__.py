"""Change tracking (issue 20): deploys told by webhooks and pipelines, what changed before an incident,
and DORA's four keys from the bot's own records."""
