"""The original Gleitzeit 0.0.5 (not durable) in a virtual environment of its own, driven by
``bench/original_driver.py``, which measures inside that interpreter and prints JSON.

The environment is created on first use under ``.venv-bench-gleitzeit/`` (gitignored) with the
package index the machine's pip is configured for; later runs reuse it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import ROOT, NotAvailable

__all__ = ["ORIGINAL_PACKAGES", "VENV", "ensure_venv", "run_original"]

VENV = ROOT / ".venv-bench-gleitzeit"
# What 0.0.5 needs to import beyond its declared dependencies.
ORIGINAL_PACKAGES = [
    "gleitzeit==0.0.5",
    "psutil",
    "sqlalchemy[asyncio]<2.1",
    "fastapi",
    "uvicorn",
    "python-multipart",
]
DRIVER = Path(__file__).with_name("original_driver.py")


def _python() -> Path:
    return VENV / "bin" / "python"


def _installed() -> bool:
    if not _python().is_file():
        return False
    probe = subprocess.run(
        [
            str(_python()),
            "-I",
            "-c",
            "import gleitzeit.client, importlib.metadata as m; print(m.version('gleitzeit'))",
        ],
        capture_output=True,
        text=True,
        cwd=tempfile.gettempdir(),
    )
    return probe.returncode == 0 and probe.stdout.strip() == "0.0.5"


def ensure_venv(log: Any = print) -> Path:
    """The original's interpreter, installing it first when needed (NotAvailable if that fails)."""
    if _installed():
        return _python()
    log(f"  creating {VENV.name} with {' '.join(ORIGINAL_PACKAGES)} (once)")
    steps = [
        [sys.executable, "-m", "venv", str(VENV)],
        [str(_python()), "-m", "pip", "install", "-q", *ORIGINAL_PACKAGES],
    ]
    for cmd in steps:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise NotAvailable(f"cannot install the original Gleitzeit: {done.stderr.strip()[-300:]}")
    if not _installed():
        raise NotAvailable("the original Gleitzeit 0.0.5 does not import in its venv")
    return _python()


def run_original(
    *, chain: int, reps: int, fanout: int, fanout_reps: int = 1, cap: int = 50, timeout: float = 900
) -> dict[str, Any]:
    """Chain and fan-out figures of the original (see original_driver.py for the shape)."""
    python = ensure_venv()
    cmd = [
        str(python),
        "-I",  # never our package: same name
        str(DRIVER),
        "--chain",
        str(chain),
        "--reps",
        str(reps),
        "--fanout",
        str(fanout),
        "--fanout-reps",
        str(fanout_reps),
        "--cap",
        str(cap),
    ]
    with tempfile.TemporaryDirectory(prefix="gleitzeit-original-") as work:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, cwd=work, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise NotAvailable(f"the original did not finish within {timeout:.0f} s") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise NotAvailable(f"the original failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result
