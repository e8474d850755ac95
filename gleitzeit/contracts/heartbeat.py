"""How often activities heartbeat: one interval for the activities, the script executors and the
workflows that set heartbeat timeouts (which must leave room for at least two beats)."""

from __future__ import annotations

__all__ = ["HEARTBEAT_INTERVAL", "MIN_HEARTBEAT_TIMEOUT"]

# Heartbeat well inside the shortest heartbeat timeout the workflow sets (15 s, python tasks), so a
# killed worker is noticed quickly while a live one is never mistaken for dead.
HEARTBEAT_INTERVAL = 3.0
# Shorter than two heartbeat intervals and a live, busy activity would be taken for dead.
MIN_HEARTBEAT_TIMEOUT = 2 * HEARTBEAT_INTERVAL
