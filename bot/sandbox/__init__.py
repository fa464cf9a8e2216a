"""The local sandbox: try incidentbot without a Slack workspace.

`incidentbot sandbox` (and `incidentbot serve` without SLACK_BOT_TOKEN) starts the project's Slack
stand-in (`bot.standin`, the same one the tests use), the real bot pointed at it, and a Slack-like
page at http://127.0.0.1:3000/sandbox that plays the workspace's users through `SlackDriver`.

Modules: `run` starts the three together, `app` serves the page and its JSON API, `snapshot` says what
one user sees, `inputs` holds Slack's client-side modal checks, `cli` the command's arguments.
"""
