"""`gleitzeit status` with several Ollama hosts: one line per host with health, load and models (the
figures come from ``get_status()``, tested against real doubles in tests/integration/test_ollama_pool.py)."""

from __future__ import annotations

from rich.console import Console

from gleitzeit.cli.status import _host_line


def test_each_host_shows_health_load_tags_and_models() -> None:
    console = Console(record=True, width=200)
    _host_line(
        console,
        {
            "id": "gpu",
            "url": "http://gpu:11434",
            "healthy": True,
            "tags": ["gpu"],
            "max_concurrent": 2,
            "active": 1,
            "served": 7,
            "models": ["llama3.2:70b"],
        },
    )
    _host_line(
        console,
        {"id": "b:11434", "url": "http://b:11434", "healthy": False, "max_concurrent": 5, "error": "refused"},
    )
    text = console.export_text()
    assert "✓ gpu (http://gpu:11434) [gpu]: 1/2 busy, 7 served; llama3.2:70b" in text
    assert "✗ http://b:11434: 0/5 busy, 0 served; refused" in text
