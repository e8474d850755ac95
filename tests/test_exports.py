"""The public API is pinned: adding or removing a name is a decision, not an accident."""

from __future__ import annotations

import gleitzeit
import gleitzeit.client
import gleitzeit.core.errors
import gleitzeit.core.models

EXPECTED = {
    "APIError",
    "AuthenticationError",
    "BatchResults",
    "ConfigurationError",
    "ConflictError",
    "DockerUnavailableError",
    "ExecutionError",
    "GleitzeitClient",
    "GleitzeitError",
    "LLMUnavailableError",
    "LogEvent",
    "McpServerError",
    "ModelNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Problem",
    "ScriptError",
    "ServiceUnavailableError",
    "Task",
    "TaskExecutionError",
    "TaskResult",
    "TaskStatus",
    "TemporalUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WorkflowCancelledError",
    "WorkflowExecution",
    "WorkflowExecutionError",
    "WorkflowNotFoundError",
    "WorkflowResults",
    "WorkflowRun",
    "WorkflowStatus",
    "WorkflowSummary",
    "__version__",
}


def test_all_is_pinned() -> None:
    assert set(gleitzeit.__all__) == EXPECTED
    assert sorted(gleitzeit.__all__) == gleitzeit.__all__


def test_every_exported_name_resolves_from_its_home() -> None:
    for name in gleitzeit.__all__:
        value = getattr(gleitzeit, name)
        if name == "__version__":
            continue
        module = value.__module__
        assert module.startswith("gleitzeit."), (name, module)
        home = __import__(module, fromlist=[name])
        assert getattr(home, name) is value


def test_errors_and_models_are_the_seed_names() -> None:
    from gleitzeit.core.errors import GleitzeitError, TaskExecutionError, TimeoutError, ValidationError
    from gleitzeit.core.models import Task, TaskResult, WorkflowExecution

    assert issubclass(TaskExecutionError, GleitzeitError) and issubclass(ValidationError, GleitzeitError)
    assert issubclass(TimeoutError, GleitzeitError)
    assert {Task, TaskResult, WorkflowExecution} <= {getattr(gleitzeit, n) for n in gleitzeit.__all__[:-1]}
    assert set(gleitzeit.core.errors.__all__) - {"Problem"} <= set(gleitzeit.__all__)


def test_client_package_exports() -> None:
    assert set(gleitzeit.client.__all__) == {
        "BatchResults",
        "GleitzeitClient",
        "WorkflowResults",
        "WorkflowRun",
    }


def test_client_methods_match_the_seed() -> None:
    import inspect

    from gleitzeit import GleitzeitClient

    seed = {
        "run_workflow": ["workflow", "inputs", "watch"],
        "chat": ["prompt", "model", "temperature", "max_tokens", "system"],
        "chat_messages": ["messages", "model"],
        "batch_process": [
            "directory",
            "pattern",
            "prompt",
            "model",
            "max_concurrent",
            "output_dir",
            "template",
        ],
        "execute_task": ["task"],
        "execute_python_script": ["script", "args", "timeout"],
        "list_models": [],
        "get_status": [],
        "__init__": [
            "mode",
            "api_host",
            "api_port",
            "auto_start_server",
            "keep_server_running",
            "native_config",
        ],
    }
    for method, params in seed.items():
        signature = inspect.signature(getattr(GleitzeitClient, method))
        names = [p for p in signature.parameters if p != "self"]
        assert names[: len(params)] == params, (method, names)
    chat = inspect.signature(GleitzeitClient.chat).parameters
    assert chat["model"].default == "llama3.2" and chat["temperature"].default == 0.7
    batch = inspect.signature(GleitzeitClient.batch_process).parameters
    assert batch["pattern"].default == "*" and batch["max_concurrent"].default == 5
    assert inspect.signature(GleitzeitClient.execute_python_script).parameters["timeout"].default == 30
    init = inspect.signature(GleitzeitClient.__init__).parameters
    assert init["mode"].default == "auto" and init["auto_start_server"].default is True
    assert init["keep_server_running"].default is True


def test_testing_package_exports() -> None:
    import gleitzeit.testing

    assert set(gleitzeit.testing.__all__) == {
        "CaseOutcome",
        "LlmScript",
        "PipelineRun",
        "PipelineTest",
        "ScriptResults",
        "TestCase",
        "TestFile",
        "TestSession",
        "discover",
        "load_files",
        "load_test_file",
        "run_cases",
    }
    for name in gleitzeit.testing.__all__:  # each resolves (they are imported on first use)
        assert getattr(gleitzeit.testing, name).__module__.startswith("gleitzeit.testing.")
