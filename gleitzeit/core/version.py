"""The package version, at the bottom layer so every layer (the LLM server's /api/version, the REST
API's health answer) can read it without importing the package root, which sits above them all."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
