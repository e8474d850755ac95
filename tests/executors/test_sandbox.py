"""Container names, labels and limits (no engine needed)."""

from __future__ import annotations

import os
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


def test_an_outputs_dir_is_the_one_writable_host_path_and_the_worker_owns_it(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    req = ScriptRequest.from_parameters(
        {"code": "pass", "outputs_dir": "results", "mounts": ["inputs"]},
        settings=Settings(),
        task_id="step",
        base_dir=str(tmp_path),
    )
    ws = Workspace.create(req)
    try:
        spec = container_spec(req, ws, "gz-x")
    finally:
        ws.remove()
    results, inputs = str(tmp_path.resolve() / "results"), str(tmp_path.resolve() / "inputs")
    # Same path inside as outside, read-write only for the outputs; the rest as before.
    assert spec["volumes"][results] == {"bind": results, "mode": "rw"}
    assert spec["volumes"][inputs] == {"bind": inputs, "mode": "ro"}
    assert spec["working_dir"] == results
    assert spec["environment"]["GLEITZEIT_OUTPUTS_DIR"] == results
    assert spec["user"] == f"{os.getuid()}:{os.getgid()}"
    assert spec["read_only"] is True and spec["cap_drop"] == ["ALL"] and spec["network_mode"] == "none"
    # Read-only mounts alone write nothing on the host: the script stays nobody.
    reader = req.model_copy(update={"outputs_dir": None, "mounts": req.mounts[1:]})
    ws = Workspace.create(reader)
    try:
        spec = container_spec(reader, ws, "gz-y")
    finally:
        ws.remove()
    assert spec["user"] == "65534:65534" and spec["working_dir"] == "/tmp"
    assert "GLEITZEIT_OUTPUTS_DIR" not in spec["environment"]
