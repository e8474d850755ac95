"""The Gleitzeit client: ``GleitzeitClient`` (native / api / auto modes) and its run handles."""

from gleitzeit.client.batch_results import BatchResults
from gleitzeit.client.client import GleitzeitClient
from gleitzeit.client.handles import WorkflowRun
from gleitzeit.client.results import WorkflowResults

__all__ = ["BatchResults", "GleitzeitClient", "WorkflowResults", "WorkflowRun"]
