"""How often activities heartbeat: one interval for the activities, the script executors and the
workflows that set heartbeat timeouts (which must leave room for at least two beats)."""

from __future__ import annotations

__all__ = ["HEARTBEAT_INTERVAL", "HEARTBEAT_THROTTLE", "MIN_HEARTBEAT_TIMEOUT"]

# Heartbeat well inside the shortest heartbeat timeout the workflow sets (15 s, python tasks), so a
# killed worker is noticed quickly while a live one is never mistaken for dead.
HEARTBEAT_INTERVAL = 3.0
# Shorter than two heartbeat intervals and a live, busy activity would be taken for dead.
MIN_HEARTBEAT_TIMEOUT = 2 * HEARTBEAT_INTERVAL
# The longest the worker holds a heartbeat back before sending it (the SDK's default is 0.8 x the
# heartbeat timeout: 16 s for an LLM task). A cancellation (a user's cancel, a run's timeout, a sibling's
# failure) reaches a running activity only in the answer to a sent heartbeat, so this bounds how long a
# cancelled task keeps running; at 5 s, 50 running tasks cost the server 10 heartbeats a second.
HEARTBEAT_THROTTLE = 5.0
