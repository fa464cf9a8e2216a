"""Alertmanager integration: the webhook payload and the rules that turn alert groups into incidents.

Kept apart from Slack and the store so the same parsing and routing serve the HTTP webhook, the CLI and
tests alike; the service that acts on a `Route` lives with the other services.
"""
