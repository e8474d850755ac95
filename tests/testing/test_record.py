"""``gleitzeit test --record`` against the real embedded LLM server, and the llm: block it writes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gleitzeit.config import Settings
from gleitzeit.testing.record import record_files, write_llm_block
from gleitzeit.testing.runner import load_files
from tests.fixtures.llm import LlmServer

pytestmark = pytest.mark.timeout(180)

PIPELINE = """\
name: recorded
tasks:
  - id: greet
    method: llm/generate
    parameters: {model: smollm2:135m, prompt: "Say hello.", max_tokens: 6, temperature: 0, seed: 1}
  - id: shout
    method: python/execute
    parameters:
      context: {text: "${greet.response}"}
      code: |
        import json, sys
        print(json.dumps({"upper": json.load(sys.stdin)["text"].upper()}))
"""

TEST = """\
# a golden file
pipeline: recorded.yaml
cases:
  - name: first      # the answers go under each case
    expect: {status: completed}
  - name: second
    llm:
      - task: greet
        reply: old
    expect:
      status: completed
"""


@pytest.mark.llm
async def test_record_writes_real_answers_that_then_replay(tmp_path: Path, llm_server: LlmServer) -> None:
    (tmp_path / "recorded.yaml").write_text(PIPELINE)
    test_file = tmp_path / "recorded.test.yaml"
    test_file.write_text(TEST)
    files, problems = load_files([test_file])
    assert not problems
    runs = await record_files(files, Settings(ollama_host=llm_server.url, auto_start_llm=False))
    assert [r.status for r in runs] == ["completed", "completed"]
    text = test_file.read_text()
    assert text.startswith("# a golden file\n") and "# the answers go under each case" in text
    cases = yaml.safe_load(text)["cases"]
    answers = [c["llm"][0] for c in cases]
    assert [a["task"] for a in answers] == ["greet", "greet"]
    assert all(isinstance(a["reply"], str) and a["reply"] for a in answers)
    assert cases[1]["expect"] == {"status": "completed"}
    # The recorded file now runs without the LLM server, from its answers.
    (replayed,), _ = load_files([test_file])
    assert [e.reply for c in replayed.cases for e in c.script.llm] == [a["reply"] for a in answers]


def test_llm_block_is_added_or_replaced_in_place(tmp_path: Path) -> None:
    path = tmp_path / "t.test.yaml"
    path.write_text(
        "pipeline: p.yaml   # keep me\nllm:\n- task: a\n  reply: x\n# after\nexpect: {status: completed}\n"
    )
    write_llm_block(path, (), [{"task": "a", "reply": "new"}])
    assert path.read_text() == (
        "pipeline: p.yaml   # keep me\nllm:\n  - task: a\n    reply: new\n# after\nexpect: {status: completed}\n"
    )
    path.write_text(
        "pipeline: p.yaml\ncases:\n  - name: one\n    expect: {status: completed}\n  - name: two\n"
    )
    write_llm_block(path, ("cases", 0), [{"task": "a", "reply": {"embedding": [0.5, 1.0]}}])
    data = yaml.safe_load(path.read_text())
    assert data["cases"][0]["llm"] == [{"task": "a", "reply": {"embedding": [0.5, 1.0]}}]
    assert data["cases"][1] == {"name": "two"}
