"""The local executor's fork server: start a script by ``fork()`` from a warm interpreter, not by ``exec``.

Starting a fresh interpreter costs ~27 ms per task here (site-packages, ``.pth`` files); a trivial
script needs ~2 ms once that is done. So the worker keeps one small, single-threaded Python process
per interpreter (the "zygote", stdlib only) that has done the start-up once and forks a child per
script, like multiprocessing's forkserver or Android's zygote. Measured: one trivial script
27.6 -> 5.2 ms. It speeds up ``executor: local`` only; Docker scripts start as containers.

What the zygote holds is what every child inherits, so it is started with the same minimal
environment a script gets (never the worker's: no tokens, no passwords) and receives each task's
environment only inside that task's child. It dies with the worker (``PR_SET_PDEATHSIG`` and EOF on
its control socket) and ends the scripts still running then.

The local executor keeps the classic ``exec`` path and uses it whenever the fork server cannot be
exact or cannot help (:func:`fork_server_refusal`), or when ``Settings.local_forkserver`` is off
(``GLEITZEIT_LOCAL_FORKSERVER=false``). If the zygote dies while scripts run, their tasks fail with
:class:`ForkServerLost` (retryable: the next attempt starts a new zygote).

The modules, by side:

- :mod:`.client`, the worker side: :class:`ForkServer` starts (and restarts) its zygote, held as a
  :class:`ZygoteProcess`, and forks scripts (:class:`ForkedScript`); one server per interpreter.
- :mod:`.protocol`: the sockets and messages between the two sides, and the worker's half of them.
- :mod:`.stdio`: the script's stdin/stdout/stderr pipes, written and read without asyncio transports.
- :mod:`.zygote`, the zygote side: a standalone file run as the zygote process, never imported.
"""

from gleitzeit.executors.forkserver.client import (
    ForkedScript,
    ForkServer,
    ForkServerLost,
    ForkServerUnavailable,
    ZygoteProcess,
    fork_server,
    fork_server_refusal,
    shutdown_fork_servers,
)
from gleitzeit.executors.forkserver.stdio import feed_fd, pump_fd

__all__ = [
    "ForkServer",
    "ForkServerLost",
    "ForkServerUnavailable",
    "ForkedScript",
    "ZygoteProcess",
    "feed_fd",
    "fork_server",
    "fork_server_refusal",
    "pump_fd",
    "shutdown_fork_servers",
]
