"""The batch form: validation of batch/template, expansion into one task per file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import expand_batch, load_workflow, validate_workflow


def _tree(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "b.txt").write_text("b")
    (docs / "a.txt").write_text("a")
    (docs / "sub" / "c.txt").write_text("c")
    (docs / "pic.png").write_bytes(b"\x89PNG")
    return docs


def _batch(method_block: str, pattern: str = "*.txt", extra: str = "") -> str:
    return f"""name: batch
type: batch
protocol: {"python/v1" if "python" in method_block else "llm/v1"}
{extra}batch:
  directory: docs
  pattern: "{pattern}"
  max_concurrent: 2
template:
{method_block}"""


CHAT = """  method: llm/chat
  priority: high
  timeout: 30
  model: smollm2:135m
  messages: [{role: user, content: "Summarize for ${inputs.who}."}]
"""


def test_chat_batch_gets_file_path_per_file(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(_batch(CHAT, extra="inputs:\n  who: me\n"))
    spec = load_workflow(wf)
    assert spec.tasks == [] and spec.batch is not None and spec.template is not None
    out = expand_batch(spec)
    assert [t.id for t in out.tasks] == ["process-a-txt-0", "process-b-txt-1"]
    assert [t.name for t in out.tasks] == ["Process a.txt", "Process b.txt"]
    first = out.tasks[0]
    assert first.parameters["file_path"] == str(tmp_path / "docs" / "a.txt")
    assert first.parameters["messages"][0]["content"] == "Summarize for ${inputs.who}."
    assert first.priority == 2 and first.timeout == 30
    assert out.batch is None and out.template is None and out.max_parallel == 2
    assert out.metadata["batch"]["file_count"] == 2
    assert expand_batch(out) is out  # not a batch any more


def test_recursive_pattern_and_sorting(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(_batch(CHAT.replace(" for ${inputs.who}", ""), pattern="**/*.txt"))
    out = expand_batch(load_workflow(wf))
    assert [Path(t.parameters["file_path"]).name for t in out.tasks] == ["a.txt", "b.txt", "c.txt"]


def test_python_batch_puts_the_path_in_context(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(_batch("  method: python/execute\n  code: print(1)\n  context: {mode: x}\n"))
    out = expand_batch(load_workflow(wf))
    assert out.tasks[0].parameters["context"] == {"mode": "x", "file_path": str(tmp_path / "docs" / "a.txt")}


def test_vision_batch_gets_image_path_and_nested_parameters(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        _batch("  method: llm/vision\n  parameters:\n    model: llava\n    prompt: What?\n", "*.png")
    )
    out = expand_batch(load_workflow(wf))
    assert out.tasks[0].id == "process-pic-png-0"
    assert out.tasks[0].parameters == {
        "model": "llava",
        "prompt": "What?",
        "image_path": str(tmp_path / "docs" / "pic.png"),
    }


def test_empty_match_is_a_validation_error_with_a_hint(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(_batch(CHAT.replace(" for ${inputs.who}", ""), pattern="*.md"))
    spec = load_workflow(wf)
    with pytest.raises(ValidationError) as info:
        expand_batch(spec)
    (p,) = info.value.problems
    assert p.code == "batch-empty" and "'*.md'" in p.message and "**/*.txt" in (p.hint or "")


def test_template_problems_are_reported(tmp_path: Path) -> None:
    _tree(tmp_path)
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        _batch(
            "  method: llm/chat\n  modle: x\n  file_path: a.txt\n  messages: [{role: user, content: "
            "'${other.response}'}]\n"
        )
    )
    codes = sorted(p.code for p in validate_workflow(wf))
    assert codes == ["conflicting-parameters", "missing-parameter", "unknown-parameter", "unknown-reference"]


def test_missing_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # the current directory is the second place looked at ("docs" here)
    wf = tmp_path / "wf.yaml"
    wf.write_text(_batch(CHAT.replace(" for ${inputs.who}", "")))
    (p,) = validate_workflow(wf)
    assert p.code == "file-not-found" and p.line == 5
