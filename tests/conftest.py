pytest_plugins = [
    "tests.fixtures_db",
    "tests.fixtures_slack",
    "tests.fixtures_bot",
    "tests.fixtures_prometheus",
    "tests.fixtures_alertmanager",
    "tests.fixtures_browser",
    "tests.fixtures_smtp",
]
