"""The routes of Ollama's REST API, one ``APIRouter`` per resource group.

``models`` (version, tags, ps, show, pull), ``chat``, ``generate``, ``embed`` (embed and the legacy
embeddings), and ``unsupported`` (every other ``/api/...`` path; included last, it catches what the
others do not). ``common`` holds what they share: the backend and request log from ``app.state``,
the body reader and the model lookup; ``answer`` fits a prompt into the context and streams or
collects the answer for chat and generate.
"""
