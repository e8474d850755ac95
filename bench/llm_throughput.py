"""Benchmark 11: real LLM throughput. A fan-out of short chats through a pipeline vs the same chats sent
directly to the same embedded server vs the same model in xllamacpp's own OpenAI-compatible server.

    python -m bench.llm_throughput [--chats 64] [--rounds 2] [--in-flight N]

Every side asks SmolLM2-135M the same ``chats`` questions (temperature 0, fixed seed, at most ``tokens``
tokens each), ``in_flight`` at a time:

- pipeline: one workflow of ``chats`` independent ``llm/chat`` tasks with ``max_parallel: in_flight``, run by
  ``GleitzeitClient`` and an in-process worker on the benchmark's dev server, against the embedded LLM server
  (``gleitzeit llm serve``, a subprocess);
- temporal: the floor of any engine on Temporal: a hand-written workflow (``bench.handwritten.HandFanOut``)
  running the same ``llm.chat`` activity ``in_flight`` at a time, on the same worker and server;
- direct: the official ``ollama`` AsyncClient to the same embedded server;
- xllamacpp: the official ``openai`` AsyncClient to llama.cpp's own HTTP server (``xllamacpp.Server`` in a
  subprocess, built with the embedded server's parameters: same slots, context, threads).

Both servers have ``slots`` parallel slots (the embedded server's default, ``DEFAULT_PARALLEL``) and run
llama.cpp's continuous batching: requests in flight beyond the slots wait in llama.cpp's queue. Tokens are
counted from the answers (``eval_count``, ``usage.completion_tokens``), never assumed. Rounds alternate the
order of the sides so that the machine's noise hits them alike; the figures are medians over rounds.
The target: pipeline tokens/s >= 0.95x the better of the two direct figures. On a machine whose cores
llama.cpp's threads use, every engine's own CPU (worker, Temporal server) is taken from them: the temporal
side shows how much of a miss any Temporal workflow pays too.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.common import BenchServer, free_port, listening_subprocess, median
from bench.handwritten import HAND_WORKFLOWS, HandFanOut, HandInput
from gleitzeit.llm_server.options import DEFAULT_CTX_PER_SLOT, DEFAULT_PARALLEL, DEFAULT_THREADS

__all__ = ["SIDES", "completion_tokens", "fan_out", "measure_llm_throughput", "server_seconds"]

MODEL = "smollm2:135m"
SIDES = ("pipeline", "temporal", "direct", "xllamacpp")
TARGET = 0.95
SEED = 1


def _prompt(i: int, rnd: int) -> str:
    # A story never ends within 32 tokens, so every answer is the full length; the round in the text
    # keeps llama.cpp's per-slot prompt cache from favouring a later side with an earlier side's prompt.
    return f"Write a long story about lighthouse keeper number {i} and storm {rnd}."


def fan_out(chats: int, tokens: int, in_flight: int, rnd: int = 0) -> dict[str, Any]:
    """The pipeline side: ``chats`` independent llm/chat tasks, at most ``in_flight`` at a time."""
    return {
        "name": f"llm-throughput-{chats}",
        "max_parallel": in_flight,
        "tasks": [
            {
                "id": f"chat{i}",
                "method": "llm/chat",
                "parameters": {
                    "model": MODEL,
                    "prompt": _prompt(i, rnd),
                    "temperature": 0,
                    "seed": SEED,
                    "num_predict": tokens,
                },
            }
            for i in range(chats)
        ],
    }


def completion_tokens(answer: Any) -> int:
    """Generated tokens of one answer, whichever side gave it: a pipeline task's result
    (``tokens_used``), an Ollama response (``eval_count``) or an OpenAI one (``usage.completion_tokens``);
    objects or dicts alike."""

    def get(obj: Any, key: str) -> Any:
        return obj.get(key) if isinstance(obj, Mapping) else getattr(obj, key, None)

    for key in ("tokens_used", "eval_count"):
        value = get(answer, key)
        if value is not None:
            return int(value)
    usage = get(answer, "usage")
    if usage is not None and get(usage, "completion_tokens") is not None:
        return int(get(usage, "completion_tokens"))
    raise ValueError(f"no token count in the answer: {str(answer)[:200]}")


def server_seconds(answer: Any) -> float:
    """Seconds the server spent on one answer by its own account (Ollama's ``total_duration`` in ns,
    llama.cpp's ``timings``), 0.0 if it gave none: summed over a side and divided by wall time x
    slots, how busy it kept the slots (what a side's own gaps between requests cost)."""
    value = (
        answer.get("total_duration")
        if isinstance(answer, Mapping)
        else getattr(answer, "total_duration", None)
    )
    if value is not None:
        return float(value) / 1e9
    timings = getattr(answer, "timings", None) or {}
    return float(timings.get("prompt_ms", 0) + timings.get("predicted_ms", 0)) / 1000


Answers = tuple[float, list[int], list[float]]


def _answers(wall: float, answers: list[Any]) -> Answers:
    """A side's wall seconds with each answer's tokens and server seconds."""
    return wall, [completion_tokens(a) for a in answers], [server_seconds(a) for a in answers]


async def _bounded(n: int, in_flight: int, one: Callable[[int], Any]) -> Answers:
    """Wall seconds, the tokens and the server seconds of ``n`` calls of ``one(i)``, ``in_flight`` at a
    time."""
    gate = asyncio.Semaphore(in_flight)

    async def call(i: int) -> Any:
        async with gate:
            return await one(i)

    started = time.perf_counter()
    answers = await asyncio.gather(*(call(i) for i in range(n)))
    wall = time.perf_counter() - started
    return _answers(wall, answers)


async def _direct(url: str, chats: int, tokens: int, in_flight: int, rnd: int) -> Answers:
    import ollama

    client = ollama.AsyncClient(host=url, timeout=600)
    options = {"temperature": 0, "seed": SEED, "num_predict": tokens}
    try:
        return await _bounded(
            chats,
            in_flight,
            lambda i: client.chat(
                model=MODEL, messages=[{"role": "user", "content": _prompt(i, rnd)}], options=options
            ),
        )
    finally:
        await client.close()


async def _xllamacpp(url: str, chats: int, tokens: int, in_flight: int, rnd: int) -> Answers:
    import openai

    client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="none", timeout=600, max_retries=0)
    try:
        return await _bounded(
            chats,
            in_flight,
            lambda i: client.chat.completions.create(
                model=MODEL,
                messages=[{"role": "user", "content": _prompt(i, rnd)}],
                max_tokens=tokens,
                temperature=0,
                seed=SEED,
            ),
        )
    finally:
        await client.close()


async def _pipeline(gz: Any, chats: int, tokens: int, in_flight: int, rnd: int) -> Answers:
    started = time.perf_counter()
    results = await gz.run_workflow(fan_out(chats, tokens, in_flight, rnd), timeout=1800)
    wall = time.perf_counter() - started
    answers = [results[f"chat{i}"] for i in range(chats)]
    return _answers(wall, answers)


async def _temporal(
    client: Any, task_queue: str, chats: int, tokens: int, in_flight: int, rnd: int
) -> Answers:
    tasks = fan_out(chats, tokens, in_flight, rnd)["tasks"]
    inp = HandInput(
        n=chats, cap=in_flight, activity="llm.chat", task_parameters=[t["parameters"] for t in tasks]
    )
    started = time.perf_counter()
    answers = await client.execute_workflow(
        HandFanOut.run,
        inp,
        id=f"bench-hand-llm-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        request_eager_start=True,
    )
    wall = time.perf_counter() - started
    return _answers(wall, answers)


def _cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux /proc), or by this one: what
    each side costs in CPU, which on a 2-core machine is taken from llama.cpp's threads."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def _xllamacpp_server(slots: int, ctx: int, threads: int) -> Iterator[tuple[str, int]]:
    """llama.cpp's own HTTP server (``xllamacpp.Server``) in a subprocess, as the embedded server builds
    its one (backend.py); yields its URL and process id."""
    port = free_port()
    args = ["-m", "bench.llm_throughput", "--serve-xllamacpp", str(port), str(slots), str(ctx), str(threads)]
    with listening_subprocess(args, port, "xllamacpp's server", wait_s=120) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


def _serve_xllamacpp(port: int, slots: int, ctx: int, threads: int) -> None:
    """The subprocess of ``_xllamacpp_server``: the parameters of ``LlamaBackend._server``, on ``port``."""
    import xllamacpp

    from gleitzeit.llm_server.models import find_smollm2_gguf

    params = xllamacpp.CommonParams()
    params.model.path = str(find_smollm2_gguf())
    params.n_parallel = slots
    params.n_ctx = slots * ctx
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.verbosity = 0
    params.port = port
    params.warmup = False
    server = xllamacpp.Server(params)
    print(server.listening_address, flush=True)
    while True:
        time.sleep(3600)


async def measure_llm_throughput(
    server: BenchServer,
    *,
    chats: int = 64,
    tokens: int = 32,
    rounds: int = 2,
    slots: int = DEFAULT_PARALLEL,
    in_flight: int | None = None,
    threads: int = DEFAULT_THREADS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Tokens/s of each side, medians over ``rounds`` rounds in alternating order, and the ratio."""
    from gleitzeit.client.client import GleitzeitClient
    from gleitzeit.llm_server.serving import llm_backend_available
    from gleitzeit.services.connection import connect
    from gleitzeit.services.llm import start_llm_server
    from gleitzeit.worker.build import build_worker

    ok, hint = llm_backend_available()
    if not ok:
        return {"available": False, "reason": hint}
    in_flight = in_flight or slots
    tmp = Path(tempfile.mkdtemp(prefix="gleitzeit-bench-llm-"))
    handle = start_llm_server(
        "127.0.0.1",
        free_port(),
        log_file=tmp / "server.log",
        parallel=slots,
        ctx_size=DEFAULT_CTX_PER_SLOT,
        threads=threads,
    )
    figures: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    try:
        with _xllamacpp_server(slots, DEFAULT_CTX_PER_SLOT, threads) as (xurl, xpid):
            server_pid = {
                "pipeline": handle.pid,
                "temporal": handle.pid,
                "direct": handle.pid,
                "xllamacpp": xpid,
            }
            settings = server.settings.model_copy(
                update={
                    "ollama_host": handle.url,
                    "auto_start_llm": False,
                    "auto_start_temporal": False,
                    "task_queue": f"bench-llm-{uuid.uuid4().hex[:6]}",
                }
            )
            # One in-process worker runs both engines' workflows (the pipeline's and the hand-written).
            client = await connect(settings)
            async with (
                build_worker(client, settings, extra_workflows=HAND_WORKFLOWS),
                GleitzeitClient(mode="native", settings=settings, native_config={"worker": "never"}) as gz,
            ):
                queue = settings.task_queue
                runs: dict[str, Callable[[int, int], Any]] = {
                    "pipeline": lambda n, r: _pipeline(gz, n, tokens, in_flight, r),
                    "temporal": lambda n, r: _temporal(client, queue, n, tokens, in_flight, r),
                    "direct": lambda n, r: _direct(handle.url, n, tokens, in_flight, r),
                    "xllamacpp": lambda n, r: _xllamacpp(xurl, n, tokens, in_flight, r),
                }
                for side in SIDES:  # warm-up: the worker, connections, each server's first batch
                    await runs[side](min(in_flight, chats), -1)
                for rnd in range(rounds):
                    # Rotate the order each round: every side goes first, second and last in turn.
                    order = SIDES[rnd % len(SIDES) :] + SIDES[: rnd % len(SIDES)]
                    for side in order:
                        cpu0 = _cpu_s(), _cpu_s(server_pid[side]), _cpu_s(server.pid)
                        wall, counts, busy = await runs[side](chats, rnd)
                        row = {
                            "bench_cpu_s": _cpu_s() - cpu0[0],
                            "server_cpu_s": _cpu_s(server_pid[side]) - cpu0[1],
                            "temporal_cpu_s": _cpu_s(server.pid) - cpu0[2] if server.pid else float("nan"),
                            "wall_s": wall,
                            "tokens": sum(counts),
                            "tokens_per_s": sum(counts) / wall,
                            "slots_busy": sum(busy) / (wall * min(slots, in_flight)),
                        }
                        figures[side].append(row)
                        log(
                            f"  round {rnd + 1} {side}: {row['tokens']} tokens in {wall:.2f} s = "
                            f"{row['tokens_per_s']:.1f} tokens/s, slots busy {row['slots_busy']:.0%}"
                        )
    finally:
        handle.stop()
    result: dict[str, Any] = {
        "available": True,
        "chats": chats,
        "max_tokens": tokens,
        "rounds": rounds,
        "slots": slots,
        "in_flight": in_flight,
        "threads": threads,
        "rows": figures,
    }
    for side in SIDES:
        for key in ("tokens_per_s", "tokens", "slots_busy", "bench_cpu_s", "temporal_cpu_s", "server_cpu_s"):
            result[f"{side}_{'tps' if key == 'tokens_per_s' else key}"] = median(
                [f[key] for f in figures[side]]
            )
    best = max(result["direct_tps"], result["xllamacpp_tps"])
    result["ratio"] = result["pipeline_tps"] / best if best else None
    result["vs_temporal"] = (
        result["pipeline_tps"] / result["temporal_tps"] if result["temporal_tps"] else None
    )
    result["temporal_ratio"] = result["temporal_tps"] / best if best else None
    result["direct_vs_xllamacpp"] = (
        result["direct_tps"] / result["xllamacpp_tps"] if result["xllamacpp_tps"] else None
    )
    log(
        f"  pipeline {result['pipeline_tps']:.1f}, direct {result['direct_tps']:.1f}, xllamacpp "
        f"{result['xllamacpp_tps']:.1f} tokens/s: {result['ratio']:.2f}x of the better direct figure "
        f"(the hand-written Temporal workflow {result['temporal_tps']:.1f}, {result['temporal_ratio']:.2f}x)"
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.llm_throughput", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--chats", type=int, default=64)
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--slots", type=int, default=DEFAULT_PARALLEL, help="parallel slots of both servers")
    parser.add_argument("--in-flight", type=int, help="requests in flight on every side (default: the slots)")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="llama.cpp threads of both servers"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--serve-xllamacpp", nargs=4, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_xllamacpp:
        _serve_xllamacpp(*args.serve_xllamacpp)
        return 0
    from bench.common import bench_server

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with bench_server() as server:
        r = asyncio.run(
            measure_llm_throughput(
                server,
                chats=args.chats,
                tokens=args.tokens,
                rounds=args.rounds,
                slots=args.slots,
                in_flight=args.in_flight,
                threads=args.threads,
                log=log,
            )
        )
    if args.json or not r.get("available"):
        print(json.dumps(r, indent=2))
        return 0 if r.get("available") else 1
    print(
        f"SmolLM2-135M, {r['chats']} chats of <= {r['max_tokens']} tokens, {r['slots']} slots, "
        f"{r['in_flight']} in flight, {r['threads']} threads, median of {r['rounds']} rounds"
    )
    print(
        f"{'':12}{'tokens':>8}{'tokens/s':>10}{'slots busy':>12}{'CPU s: bench':>14}{'temporal':>10}"
        f"{'LLM server':>12}"
    )
    for side in SIDES:
        print(
            f"{side:12}{r[f'{side}_tokens']:8.0f}{r[f'{side}_tps']:10.1f}{r[f'{side}_slots_busy']:12.0%}"
            f"{r[f'{side}_bench_cpu_s']:14.1f}{r[f'{side}_temporal_cpu_s']:10.1f}{r[f'{side}_server_cpu_s']:12.1f}"
        )
    verdict = "met" if r["ratio"] >= TARGET else "NOT met"
    print(f"pipeline / max(direct, xllamacpp) = {r['ratio']:.2f}x (target >= {TARGET}: {verdict})")
    print(
        f"hand-written Temporal workflow / max(direct, xllamacpp) = {r['temporal_ratio']:.2f}x; "
        f"pipeline / hand-written = {r['vs_temporal']:.2f}x"
    )
    print(f"direct / xllamacpp = {r['direct_vs_xllamacpp']:.2f}x")
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # a process that ran a Temporal worker can crash at interpreter exit (FACTS.md)
