"""The processes Gleitzeit starts and the runtime that brings them up.

``temporal_dev`` (the embedded Temporal dev server), ``llm`` (the embedded LLM server, started as
``python -m gleitzeit.llm_server``), ``api_process`` (the REST API as a subprocess, for the client's api
mode), all through ``detached.start_detached``; ``connection`` (a Temporal client with the shared data
converter) and ``runtime`` (``LocalRuntime``: what `gleitzeit run`, `gleitzeit dev` and the native
client bring up, in order).
"""
