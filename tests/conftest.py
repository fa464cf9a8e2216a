pytest_plugins = ["tests.fixtures_db", "tests.fixtures_slack", "tests.fixtures_bot"]
