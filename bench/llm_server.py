"""Benchmark: tokens/s through the embedded Ollama-API server vs the same model called in-process.

    python -m bench.llm_server [--quick]

Both sides use the same llama.cpp build, model (SmolLM2-135M Q4_1), threads and slots, the same prompt
and sampling (seeded), one after the other so they never share the CPU. Reported per side: decode
tokens/s (completion tokens / time from the first to the last token), end-to-end tokens/s, and the
first-token latency (request sent -> first text piece received). The target is a server/in-process
ratio >= 0.9. Also: aggregate tokens/s of 4 concurrent streams through the server (parallel slots).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["run"]

PROMPT = "Write a long story about a lighthouse keeper and a storm."
THREADS = 2
PARALLEL = 4
CTX = 2048


def _inprocess(runs: int, tokens: int) -> list[dict[str, float]]:
    import xllamacpp

    from gleitzeit.llm_server.models import find_smollm2_gguf

    params = xllamacpp.CommonParams()
    params.model.path = str(find_smollm2_gguf())
    params.n_parallel = PARALLEL
    params.n_ctx = PARALLEL * CTX
    params.cpuparams.n_threads = THREADS
    params.cpuparams_batch.n_threads = THREADS
    params.verbosity = 0
    params.warmup = False
    server = xllamacpp.Server(params)
    out = []
    for i in range(runs + 1):  # the first run warms up and is discarded
        stamps: list[float] = []
        n_tokens = 0

        def on_chunk(chunk: dict[str, Any], stamps: list[float] = stamps) -> bool:
            nonlocal n_tokens
            for choice in chunk.get("choices") or []:
                if (choice.get("delta") or {}).get("content"):
                    stamps.append(time.perf_counter())
            if chunk.get("usage"):
                n_tokens = int(chunk["usage"]["completion_tokens"])
            return False

        body = {
            "messages": [{"role": "user", "content": PROMPT}],
            "max_tokens": tokens,
            "seed": 1,
            "temperature": 0.7,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        t0 = time.perf_counter()
        server.handle_chat_completions(body, on_chunk)
        if i:
            out.append(_summary(t0, stamps, n_tokens))
    del server
    return out


def _summary(t0: float, stamps: list[float], n_tokens: int) -> dict[str, float]:
    end = stamps[-1] if stamps else time.perf_counter()
    decode_s = max(end - stamps[0], 1e-9) if len(stamps) > 1 else float("nan")
    return {
        "tokens": n_tokens,
        "first_token_ms": (stamps[0] - t0) * 1000 if stamps else float("nan"),
        "decode_tps": (n_tokens - 1) / decode_s if n_tokens > 1 else float("nan"),
        "e2e_tps": n_tokens / max(end - t0, 1e-9),
    }


async def _through_server(url: str, runs: int, tokens: int) -> tuple[list[dict[str, float]], float]:
    import ollama

    client = ollama.AsyncClient(host=url, timeout=300)
    options = {"num_predict": tokens, "seed": 1, "temperature": 0.7}
    messages = [{"role": "user", "content": PROMPT}]

    async def one(opts: dict[str, Any]) -> dict[str, float]:
        stamps: list[float] = []
        n_tokens = 0
        t0 = time.perf_counter()
        async for chunk in await client.chat(
            model="smollm2:135m", messages=messages, stream=True, options=opts
        ):
            if chunk.message.content:
                stamps.append(time.perf_counter())
            if chunk.done:
                n_tokens = int(chunk.eval_count or 0)
        return _summary(t0, stamps, n_tokens)

    out = []
    for i in range(runs + 1):
        result = await one(options)
        if i:
            out.append(result)
    # Parallel slots: 4 streams at once, aggregate tokens per second of wall time.
    t0 = time.perf_counter()
    results = await asyncio.gather(*(one(dict(options, seed=s)) for s in range(PARALLEL)))
    aggregate = sum(r["tokens"] for r in results) / (time.perf_counter() - t0)
    return out, aggregate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _median(rows: list[dict[str, float]], key: str) -> float:
    return float(statistics.median(r[key] for r in rows))


def run(quick: bool = False) -> dict[str, Any]:
    """Run the benchmark; returns the medians and the ratio (prints nothing)."""
    from gleitzeit.llm_server.serving import llm_backend_available
    from gleitzeit.services.llm import start_llm_server

    ok, hint = llm_backend_available()
    if not ok:
        raise SystemExit(f"cannot benchmark: {hint}")
    runs, tokens = (3, 64) if quick else (5, 128)
    inproc = _inprocess(runs, tokens)
    with tempfile.TemporaryDirectory() as tmp:
        handle = start_llm_server(
            "127.0.0.1", _free_port(), log_file=Path(tmp) / "server.log", parallel=PARALLEL, ctx_size=CTX
        )
        try:
            served, aggregate = asyncio.run(_through_server(handle.url, runs, tokens))
        finally:
            handle.stop()
    result: dict[str, Any] = {
        "runs": runs,
        "max_tokens": tokens,
        "inprocess_decode_tps": _median(inproc, "decode_tps"),
        "server_decode_tps": _median(served, "decode_tps"),
        "inprocess_e2e_tps": _median(inproc, "e2e_tps"),
        "server_e2e_tps": _median(served, "e2e_tps"),
        "inprocess_first_token_ms": _median(inproc, "first_token_ms"),
        "server_first_token_ms": _median(served, "first_token_ms"),
        "server_aggregate_tps_4_streams": aggregate,
    }
    result["ratio_decode"] = result["server_decode_tps"] / result["inprocess_decode_tps"]
    result["ratio_e2e"] = result["server_e2e_tps"] / result["inprocess_e2e_tps"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.llm_server", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    r = run(quick=args.quick)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    print(f"SmolLM2-135M Q4_1, {THREADS} threads, {r['max_tokens']} tokens, median of {r['runs']} runs")
    print(f"{'':22}{'in-process':>12}{'server':>12}{'ratio':>8}")
    print(
        f"{'decode tokens/s':22}{r['inprocess_decode_tps']:12.1f}{r['server_decode_tps']:12.1f}"
        f"{r['ratio_decode']:8.2f}"
    )
    print(
        f"{'end-to-end tokens/s':22}{r['inprocess_e2e_tps']:12.1f}{r['server_e2e_tps']:12.1f}{r['ratio_e2e']:8.2f}"
    )
    print(f"{'first token (ms)':22}{r['inprocess_first_token_ms']:12.1f}{r['server_first_token_ms']:12.1f}")
    print(f"server, 4 concurrent streams: {r['server_aggregate_tps_4_streams']:.1f} tokens/s aggregate")
    print(f"target ratio >= 0.9: {'met' if r['ratio_decode'] >= 0.9 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
