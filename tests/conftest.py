"""Test configuration. Fixtures live in tests/fixtures/, one module per component."""

pytest_plugins = [
    "tests.fixtures.llm",
    "tests.fixtures.temporal",
    "tests.fixtures.docker",
    "tests.fixtures.client",
    "tests.fixtures.original",
]
