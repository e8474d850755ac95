"""Benchmark 11's own logic without a model: its pipeline is valid and its token counting reads every
side's recorded answer (the figures themselves come from `python -m bench.llm_throughput`)."""

from __future__ import annotations

import ollama
from openai.types.chat import ChatCompletion

from bench.llm_throughput import completion_tokens, fan_out, server_seconds
from gleitzeit.dsl.loader import load_workflow

# Recorded from the embedded server's /api/chat (stream: false) and xllamacpp's /v1/chat/completions.
OLLAMA_ANSWER = {
    "model": "smollm2:135m",
    "created_at": "2026-12-07T02:50:01.123Z",
    "message": {"role": "assistant", "content": "Once upon a time, on a rocky island ..."},
    "done": True,
    "done_reason": "length",
    "total_duration": 1_840_000_000,
    "load_duration": 0,
    "prompt_eval_count": 21,
    "prompt_eval_duration": 120_000_000,
    "eval_count": 32,
    "eval_duration": 1_700_000_000,
}
OPENAI_ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1796000000,
    "model": "smollm2:135m",
    "choices": [
        {
            "index": 0,
            "finish_reason": "length",
            "message": {"role": "assistant", "content": "Once upon a time, on a rocky island ..."},
        }
    ],
    "usage": {"completion_tokens": 32, "prompt_tokens": 21, "total_tokens": 53},
    "timings": {"prompt_n": 21, "prompt_ms": 95.5, "predicted_n": 32, "predicted_ms": 1604.5},
}


def test_fan_out_is_a_valid_pipeline_of_independent_chats() -> None:
    spec = load_workflow(fan_out(64, 32, 4))
    assert len(spec.tasks) == 64 and spec.max_parallel == 4
    assert all(t.method == "llm/chat" and not t.dependencies for t in spec.tasks)
    assert spec.tasks[0].parameters["num_predict"] == 32


def test_tokens_and_server_time_are_read_from_each_sides_answer() -> None:
    direct = ollama.ChatResponse.model_validate(OLLAMA_ANSWER)
    xllamacpp = ChatCompletion.model_validate(OPENAI_ANSWER)
    pipeline = {"response": "...", "tokens_used": 32, "total_duration": 1_840_000_000}
    assert [completion_tokens(a) for a in (pipeline, direct, xllamacpp)] == [32, 32, 32]
    assert server_seconds(direct) == server_seconds(pipeline) == 1.84
    assert server_seconds(xllamacpp) == 1.7
    assert server_seconds({"tokens_used": 1}) == 0.0
