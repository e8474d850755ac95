"""Executor tests' own fixture: scripts heartbeat within a fraction of a second instead of the first
interval (HEARTBEAT_INTERVAL), so a test that needs the first beat's details (pid, container) waits little."""

from __future__ import annotations

import pytest

import gleitzeit.executors.base as executor_base


@pytest.fixture
def quick_heartbeats(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(executor_base, "HEARTBEAT_INTERVAL", 0.1)
    return 0.1
