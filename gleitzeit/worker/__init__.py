"""The Temporal worker: `gleitzeit worker`, or in-process under `gleitzeit run` / `gleitzeit dev`."""

from gleitzeit.worker.build import build_worker, task_activities

__all__ = ["build_worker", "task_activities"]
