"""Parameters of the LLM methods: llm/chat, llm/generate, llm/vision and llm/embed.

The sampling options carry Ollama's own names and go to Ollama as its ``options`` (``max_tokens`` is
the seed's name for ``num_predict``). Conveniences: ``prompt`` on llm/chat is one user message (the
loader folds it), ``system`` becomes a system message unless the messages have one, ``file_path`` /
``files`` are read and put before the last user message, ``image_path`` / ``image_paths`` are read
and attached as images; llm/embed takes its text as ``input``, ``text`` or ``prompt``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WrapValidator

from gleitzeit.core.ollama_pool import STRATEGIES, Strategy
from gleitzeit.dsl.params.base import (
    Late,
    MethodParams,
    ParamIssue,
    as_seconds,
    exactly_one,
    expected,
    is_load,
    present,
)
from gleitzeit.dsl.suggest import did_you_mean

__all__ = [
    "OLLAMA_OPTION_KEYS",
    "PROVIDERS",
    "ChatLikeParams",
    "ChatParams",
    "EmbedParams",
    "GenerateParams",
    "MESSAGE_KEYS",
    "ROLES",
    "LlmParams",
    "Message",
    "TextParams",
    "VisionParams",
]

# Task parameters passed through as Ollama `options` (same names as Ollama's).
OLLAMA_OPTION_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "num_ctx",
    "num_predict",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "min_p",
    "typical_p",
    "tfs_z",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
    "num_keep",
    "num_batch",
    "num_thread",
)

ROLES = ("system", "user", "assistant", "tool")
# Who answers an llm/* task: an Ollama-API server (OLLAMA_HOST) or any OpenAI-compatible one (vLLM,
# llama.cpp's server, LM Studio ...) through the official ``openai`` package.
PROVIDERS = ("ollama", "openai")
MESSAGE_KEYS = ("role", "content", "images", "tool_calls", "name")

Str = Annotated[str | None, Late]
Int = Annotated[int | None, Late]
Num = Annotated[float | None, Late]
Bool = Annotated[bool | None, Late]
StrList = Annotated[list[Annotated[str, Late]] | None, Late]
StrOrList = Annotated[str | list[Annotated[str, Late]] | None, Late]
Seconds = Annotated[float | None, BeforeValidator(lambda v: v if v is None else as_seconds(v)), Late]

_NUM, _INT = "a number", "an integer"


def _content(v: Any, handler: Any, info: ValidationInfo) -> Any:
    # At run time a reference may have resolved to structured data: the model gets it as JSON text.
    if not is_load(info) and v is not None and not isinstance(v, str):
        return json.dumps(v)
    return handler(v)


class Message(BaseModel):
    """One chat message as Ollama takes it."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    role: Annotated[Literal["system", "user", "assistant", "tool"], Late]
    content: Annotated[str | None, WrapValidator(_content), Late]
    images: StrList = None
    tool_calls: Any = None
    name: Any = None


class LlmParams(MethodParams):
    """What every LLM method takes: the model, the server's keep_alive and the call's timeout."""

    model: Str = expected("a string")
    keep_alive: Annotated[str | float | None, Late] = expected("a duration like '5m' or seconds")
    timeout: Seconds = expected("a number of seconds above 0 or a duration like 90s, 5m or PT1H")
    # Routing over several Ollama hosts (providers.ollama_pool, OLLAMA_HOSTS); no-ops with one host.
    load_balancing_strategy: Annotated[Strategy | None, Late] = expected("one of " + ", ".join(STRATEGIES))
    instance_tags: StrList = expected("a list of strings")
    require_gpu: Bool = expected("true or false")
    ollama_pool: dict[str, Any] | None = Field(default=None, alias="_ollama_pool")  # set by the loader
    # The server: ``provider: openai`` with ``base_url`` (``http://host:8080/v1``) and the name of the
    # worker's environment variable that holds its key (``api_key_env``; the key itself never travels
    # through Temporal). Unset, the pipeline's ``providers:`` block and then the worker's settings decide.
    provider: Annotated[Literal["ollama", "openai"] | None, Late] = expected("ollama or openai")
    base_url: Str = expected("a URL like http://localhost:8080/v1")
    api_key_env: Str = expected("the name of an environment variable, like OPENAI_API_KEY")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        if present(params, "model"):
            return []
        return [
            ParamIssue(
                (),
                "missing-parameter",
                "missing parameter 'model'",
                "add 'model: smollm2:135m' (or another model the LLM server has)",
                "key",
            )
        ]

    def ollama_options(self) -> dict[str, Any]:
        """The Ollama ``options`` these parameters give (none for llm/embed)."""
        return {}


class TextParams(LlmParams):
    """The options of the methods that write text (chat, generate, vision)."""

    system: Str = expected("a string")
    temperature: Num = expected(_NUM)
    max_tokens: Int = expected(_INT)
    top_p: Num = expected(_NUM)
    top_k: Int = expected(_INT)
    seed: Int = expected(_INT)
    stop: StrOrList = expected("a string or a list of strings")
    num_ctx: Int = expected(_INT)
    num_predict: Int = expected(_INT)
    repeat_penalty: Num = expected(_NUM)
    repeat_last_n: Int = expected(_INT)
    presence_penalty: Num = expected(_NUM)
    frequency_penalty: Num = expected(_NUM)
    min_p: Num = expected(_NUM)
    typical_p: Num = expected(_NUM)
    tfs_z: Num = expected(_NUM)
    mirostat: Int = expected(_INT)
    mirostat_eta: Num = expected(_NUM)
    mirostat_tau: Num = expected(_NUM)
    num_keep: Int = expected(_INT)
    num_batch: Int = expected(_INT)
    num_thread: Int = expected(_INT)
    format: Annotated[Literal["json"] | dict[str, Any] | None, Late] = expected(
        "'json' or a JSON schema (a mapping)"
    )
    think: Annotated[bool | Literal["low", "medium", "high"] | None, Late] = expected(
        "true, false, low, medium or high"
    )
    stream: Bool = expected("true or false")
    file_path: Str = expected("a string")
    files: StrList = expected("a list of strings")

    def ollama_options(self) -> dict[str, Any]:
        options = {k: getattr(self, k) for k in OLLAMA_OPTION_KEYS if getattr(self, k) is not None}
        if self.max_tokens is not None and "num_predict" not in options:
            options["num_predict"] = self.max_tokens
        return options

    def file_names(self) -> list[str]:
        """file_path and files: text read and put before the prompt."""
        return ([self.file_path] if self.file_path else []) + list(self.files or [])


class ChatLikeParams(TextParams):
    messages: Annotated[list[Annotated[Message, Late]] | None, Late] = expected(
        "a list of {role, content} messages"
    )
    prompt: Str = expected("a string")
    # Declared by the original's llm/chat and llm/vision but never acted on there either.
    batch_mode: Bool = expected("true or false")

    @classmethod
    def nested_issues(cls, key: str, value: Any, errors: list[Any]) -> list[ParamIssue] | None:
        per_message = all(len(e["loc"]) > 1 and isinstance(e["loc"][1], int) for e in errors)
        if key != "messages" or not isinstance(value, list) or not per_message:
            return None
        return _message_issues(value, errors)

    def chat_messages(self) -> list[dict[str, Any]]:
        """The messages to send: ``prompt`` as one user message, ``system`` first unless one is there.

        Raises ValueError when there are none.
        """
        if self.messages is not None:
            messages = [
                {**m.model_dump(exclude_none=True), "content": m.content or ""} for m in self.messages
            ]
        elif self.prompt is not None:
            messages = [{"role": "user", "content": self.prompt}]
        else:
            messages = []
        if not messages:
            raise ValueError("'messages' must be a non-empty list of {role, content}")
        if self.system and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": self.system})
        return messages


class ChatParams(ChatLikeParams):
    method = "llm/chat"

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        issues = super().requirements(params)
        given = present(params, "messages", "prompt")
        if not given:
            issues.append(
                ParamIssue(
                    (),
                    "missing-parameter",
                    "missing parameter 'messages'",
                    "add 'messages: [{role: user, content: ...}]' or a 'prompt'",
                    "key",
                )
            )
        elif len(given) == 2:
            issues.append(_MESSAGES_AND_PROMPT)
        return issues


class VisionParams(ChatLikeParams):
    method = "llm/vision"

    image_path: Str = expected("a string")
    image_paths: StrList = expected("a list of strings")
    images: StrList = expected("a list of strings")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        issues = super().requirements(params)
        if len(present(params, "messages", "prompt")) == 2:
            issues.append(_MESSAGES_AND_PROMPT)
        if not present(params, "image_path", "image_paths", "images"):
            issues.append(
                ParamIssue(
                    (),
                    "missing-parameter",
                    "llm/vision needs an image",
                    "add 'image_path: picture.png' (or image_paths / images)",
                    "key",
                )
            )
        return issues

    def image_names(self) -> list[str]:
        return ([self.image_path] if self.image_path else []) + list(self.image_paths or [])


class GenerateParams(TextParams):
    method = "llm/generate"

    prompt: Str = expected("a string")
    images: StrList = expected("a list of strings")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        issues = super().requirements(params)
        if not present(params, "prompt"):
            issues.append(
                ParamIssue(
                    (),
                    "missing-parameter",
                    "missing parameter 'prompt'",
                    "add 'prompt: ...' with the text to complete",
                    "key",
                )
            )
        return issues

    def image_names(self) -> list[str]:
        return []


class EmbedParams(LlmParams):
    method = "llm/embed"

    input: StrOrList = expected("a string or a list of strings")
    text: Str = expected("a string")
    prompt: Str = expected("a string")
    truncate: Bool = expected("true or false")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        return super().requirements(params) + exactly_one(
            params,
            ("input", "text", "prompt"),
            "the text to embed",
            "add 'input: ...' (a string or a list of strings)",
        )

    def texts(self) -> list[str]:
        source = next(s for s in (self.input, self.text, self.prompt) if s is not None)
        return [source] if isinstance(source, str) else list(source)


_MESSAGES_AND_PROMPT = ParamIssue(
    ("prompt",),
    "conflicting-parameters",
    "give either 'messages' or 'prompt'",
    "move the prompt into messages as the last user message",
    "key",
)


def _message_issues(messages: list[Any], errors: list[Any]) -> list[ParamIssue]:
    """Load-time wording for the errors inside ``messages`` (one problem per message and key)."""
    issues: list[ParamIssue] = []
    seen: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = err["loc"]
        i = loc[1]
        msg = messages[i]
        where: tuple[str | int, ...] = ("messages", i)
        key = loc[2] if len(loc) > 2 and isinstance(loc[2], str) else None
        if (i, key) in seen:
            continue
        seen.add((i, key))
        if not isinstance(msg, dict):
            issues.append(
                ParamIssue(
                    where,
                    "parameter-type",
                    "a message must be a mapping with role and content",
                    "write '- role: user' and 'content: ...'",
                )
            )
        elif err["type"] == "extra_forbidden":
            issues.append(
                ParamIssue(
                    (*where, str(key)),
                    "unknown-parameter",
                    f"unknown message key '{key}'",
                    did_you_mean(str(key), MESSAGE_KEYS, otherwise="use role and content"),
                    "key",
                )
            )
        elif err["type"] == "missing":
            issues.append(
                ParamIssue(
                    where,
                    "missing-parameter",
                    f"the message has no '{key}'",
                    "add 'role: user' (or system / assistant)"
                    if key == "role"
                    else "add 'content: ...' with the text",
                )
            )
        elif key == "role":
            issues.append(
                ParamIssue(
                    (*where, "role"),
                    "parameter-type",
                    f"unknown role {msg['role']!r}",
                    did_you_mean(str(msg["role"]), ROLES, otherwise="use system, user or assistant"),
                )
            )
        elif key == "content":
            issues.append(
                ParamIssue(
                    (*where, "content"),
                    "parameter-type",
                    f"content must be a string, not {type(msg['content']).__name__}",
                    "quote the text, or reference a value with ${task.response}",
                )
            )
        elif key == "images":
            issues.append(
                ParamIssue(
                    (*where, "images"), "parameter-type", "images must be a list of strings (paths or base64)"
                )
            )
    return issues
