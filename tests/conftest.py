"""Test configuration. Fixtures live in tests/fixtures/, one module per component."""

pytest_plugins = [
    "tests.fixtures.llm",
    "tests.fixtures.temporal",
    "tests.fixtures.docker",
    "tests.fixtures.client",
    "tests.fixtures.original",
    "tests.fixtures.openai_server",
]

# tests/data holds inputs for tests, among them *.test.yaml files (some broken on purpose) that
# gleitzeit's pytest plugin would otherwise collect as pipeline tests.
collect_ignore_glob = ["data/*"]
