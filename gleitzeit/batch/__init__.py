"""The durable batch feature: one method over every file matching a glob, for up to 100,000+ files.

One folder for a feature that spans layers (it sits above ``workflows`` and ``activities``, below the
worker and the client):

- ``workflow``: ``BatchWorkflow``, the sliding window of chunks, continue-as-new, retries;
- ``plan``: how the workflow cuts the files into chunks (pure functions); ``tally``: what it keeps of
  each file and reports; ``listing``: its calls to list, page and clean up;
- ``activities``: ``BatchActivities`` (``files.list``, ``files.page``, ``batch.process_files``,
  ``batch.process_file``, ``files.cleanup``); ``chunk``: a chunk's files run side by side; ``store``:
  where a batch keeps its listing and results on disk;
- ``inputs``: a ``BatchInput`` checked before the start, or built from the YAML batch form;
  ``results``: every file's result read back, also from the output folder.

The payload types are in ``gleitzeit.contracts.batch``; the YAML batch form's format is validated in
``gleitzeit.dsl.batch``; ``gleitzeit.client.batch`` starts and waits for a batch, and the CLI and REST
API are thin adapters over the client. Nothing is imported here: Temporal's sandbox re-imports a
workflow's parent packages for every run, so this module stays empty.
"""

__all__: list[str] = []
