"""Container names, labels and limits (no engine needed)."""

from __future__ import annotations

import re
from pathlib import Path

from gleitzeit.config import Settings
from gleitzeit.executors import ScriptRequest, Workspace
from gleitzeit.executors.sandbox import container_labels, container_name, container_spec

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$")


def request(**kw: object) -> ScriptRequest:
    base = ScriptRequest.from_parameters({"code": "pass"}, settings=Settings(), task_id="step")
    return base.model_copy(update=kw)


def test_the_name_says_workflow_task_and_attempt() -> None:
    assert container_name(request(workflow_id="wf-1", attempt=2)) == "gz-wf-1-step-a2"


def test_unsafe_or_long_names_are_cleaned_and_hashed() -> None:
    odd = container_name(request(workflow_id="my flow/ü:1", attempt=1))
    assert NAME_RE.match(odd) and odd.startswith("gz-my-flow-")
    long = container_name(request(workflow_id="w" * 200, task_id="t" * 80, attempt=12))
    assert NAME_RE.match(long) and len(long) <= 63
    other = container_name(request(workflow_id="w" * 200, task_id="t" * 80, attempt=13))
    assert long != other  # the hash keeps distinct attempts apart


def test_labels_carry_the_identity_of_the_attempt() -> None:
    labels = container_labels(request(workflow_id="wf", run_id="r1", attempt=3, activity_id="step"))
    assert labels["gleitzeit.workflow_id"] == "wf"
    assert labels["gleitzeit.task_id"] == "step"
    assert labels["gleitzeit.attempt"] == "3"
    assert labels["gleitzeit.run_id"] == "r1"


def test_the_spec_applies_every_limit(tmp_path: Path) -> None:
    req = ScriptRequest.from_parameters(
        {"code": "pass", "memory": "128m", "cpus": 0.5, "env": {"K": "v"}, "args": ["a"]},
        settings=Settings(),
        task_id="step",
    )
    ws = Workspace.create(req)
    try:
        spec = container_spec(req, ws, "gz-x")
    finally:
        ws.remove()
    assert spec["network_mode"] == "none"
    assert spec["mem_limit"] == spec["memswap_limit"] == 128 * 1024**2
    assert spec["nano_cpus"] == 500_000_000
    assert spec["pids_limit"] > 0
    assert spec["read_only"] is True
    assert "/tmp" in spec["tmpfs"]
    assert spec["user"] == "65534:65534"
    assert spec["security_opt"] == ["no-new-privileges"]
    assert spec["cap_drop"] == ["ALL"]
    assert spec["environment"]["K"] == "v"
    assert spec["command"][-1] == "a"
    modes = {v["bind"]: v["mode"] for v in spec["volumes"].values()}
    assert modes == {"/gleitzeit/in": "ro", "/gleitzeit/out": "rw"}
    with_network = req.model_copy(update={"network": True})
    ws = Workspace.create(with_network)
    try:
        assert container_spec(with_network, ws, "gz-y")["network_mode"] == "bridge"
    finally:
        ws.remove()
