"""``python -m gleitzeit.llm_server``: the embedded Ollama-API server (what ``gleitzeit.services.llm`` starts)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gleitzeit.core.errors import GleitzeitError
from gleitzeit.llm_server.serving import DEFAULT_HOST, DEFAULT_PORT, ServeOptions, run_server


def main(argv: list[str] | None = None) -> int:
    defaults = ServeOptions.__dataclass_fields__
    parser = argparse.ArgumentParser(prog="python -m gleitzeit.llm_server", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--parallel", type=int, default=defaults["parallel"].default)
    parser.add_argument("--ctx-size", type=int, default=defaults["ctx_size"].default)
    parser.add_argument("--threads", type=int, default=defaults["threads"].default)
    parser.add_argument("--request-log", type=Path, default=None)
    parser.add_argument("--access-log", action="store_true")
    args = parser.parse_args(argv)
    options = ServeOptions(
        host=args.host,
        port=args.port,
        parallel=args.parallel,
        ctx_size=args.ctx_size,
        threads=args.threads,
        request_log=args.request_log,
        access_log=args.access_log,
    )
    try:
        run_server(options)
    except GleitzeitError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # llama.cpp's threads can make interpreter teardown slow or noisy; the work is done.
    os._exit(rc)
