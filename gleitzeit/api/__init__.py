"""The REST API over the client's native backend: ``create_app(settings)``; ``gleitzeit serve`` runs it."""

from gleitzeit.api.app import create_app

__all__ = ["create_app"]
