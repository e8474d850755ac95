"""The table of ratios printed by ``python -m bench`` (and pasted into the README's Performance section)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["render"]

NA = "n/a"


def _get(d: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _num(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    return format(value, fmt)


def _verdict(ok: bool | None, floor_ok: bool | None = None, floor: str = "") -> str:
    """ "met" / "NOT met"; a miss says whether the same run's yardstick (``floor``, what nothing of
    Gleitzeit's own adds to) misses the target too, so that a slow machine is told from a slow engine."""
    if ok is None:
        return NA
    if ok:
        return "met"
    if floor_ok is False:
        return f"NOT met; {floor} misses it too on this machine"
    return "NOT met"


def _within(value: Any, limit: float) -> bool | None:
    """``value <= limit``, or None when the figure is missing."""
    return None if value is None else bool(value <= limit)


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or not b:
        return None
    return float(a) / float(b)


def _unavailable(section: Any) -> str | None:
    if isinstance(section, dict) and section.get("available") is False:
        return f"{NA} ({section.get('reason', 'not available')})"
    if isinstance(section, dict) and "error" in section:
        return f"{NA} ({section['error']})"
    return None


def render(r: dict[str, Any]) -> str:
    """Markdown table of every figure in ``r`` (the dict ``python -m bench --json`` writes)."""
    rows: list[tuple[str, ...]] = []
    eng = r.get("engine") or {}
    orig = r.get("original") or {}
    o_chain = _get(orig, "chain", "median_s")
    o_chain_n = _get(orig, "chain", "n") or 1
    o_step = o_chain / o_chain_n * 1000 if o_chain is not None else None
    o_fan = _get(orig, "fanout")
    o_tps = o_fan["n"] / o_fan["median_s"] if o_fan else None

    def engine_row(label: str, shape: str, kind: str, key: str, fmt: str, original: Any) -> tuple[str, ...]:
        gz = _get(eng, shape, "gleitzeit", kind, key)
        local = _get(eng, shape, "gleitzeit_local", kind, key)
        hand = _get(eng, shape, "temporal", kind, key)
        n = _get(eng, shape, "gleitzeit", kind, "n")
        return (label.format(n=n or "?"), _num(gz, fmt), _num(local, fmt), _num(hand, fmt), original)

    step_target = 25.0
    gz_step = _get(eng, "chain", "gleitzeit", "python", "per_step_ms")
    local_step = _get(eng, "chain", "gleitzeit_local", "python", "per_step_ms")
    header = (
        "benchmark",
        "gleitzeit",
        "gleitzeit, local activities",
        "hand-written Temporal",
        "original 0.0.5",
    )
    rows.append(
        engine_row(
            "1. chain of {n} python tasks: ms per step",
            "chain",
            "python",
            "per_step_ms",
            ".1f",
            _num(o_step, ".1f"),
        )
    )
    rows.append(
        engine_row("1b. chain of {n}, no-op activity: ms per step", "chain", "noop", "per_step_ms", ".1f", NA)
    )
    cost = r.get("metrics_cost") or {}
    m_on, m_off = _get(cost, "on", "per_step_ms"), _get(cost, "off", "per_step_ms")
    rows.append(
        (
            f"1c. chain of {_get(cost, 'on', 'n') or '?'} python tasks, metrics on / off: ms per step",
            _unavailable(cost) or f"{_num(m_on, '.1f')} / {_num(m_off, '.1f')}",
            NA,
            NA,
            NA,
        )
    )
    rows.append(
        engine_row(
            "2. fan-out of {n} python tasks: tasks/s",
            "fanout",
            "python",
            "tasks_per_s",
            ".0f",
            _num(o_tps, ".0f")
            + (
                f" (n={o_fan['n']})"
                if o_fan and o_fan["n"] != _get(eng, "fanout", "gleitzeit", "python", "n")
                else ""
            ),
        )
    )
    rows.append(
        engine_row("2b. fan-out of {n}, no-op activity: tasks/s", "fanout", "noop", "tasks_per_s", ".0f", NA)
    )
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]

    # Ratios and targets.
    targets: list[tuple[str, str, str, str]] = []
    fan_gz = _get(eng, "fanout", "gleitzeit", "python", "tasks_per_s")
    fan_hand = _get(eng, "fanout", "temporal", "python", "tasks_per_s")
    noop_gz = _get(eng, "fanout", "gleitzeit", "noop", "tasks_per_s")
    noop_hand = _get(eng, "fanout", "temporal", "noop", "tasks_per_s")
    ratio1 = _ratio(gz_step, o_step)
    hand_step = _get(eng, "chain", "temporal", "python", "per_step_ms")
    targets.append(
        (
            "1. chain step vs original (<= 1.0x; <= ~25 ms/step)",
            f"{_num(ratio1, '.2f')}x ({_num(gz_step, '.1f')} ms; local activities "
            f"{_num(_ratio(local_step, o_step), '.2f')}x, {_num(local_step, '.1f')} ms; hand-written "
            f"{_num(hand_step, '.1f')} ms)",
            "<= 1.0x",
            _verdict(
                None if ratio1 is None else ratio1 <= 1.0 and gz_step <= step_target,
                _within(hand_step, step_target),
                "the hand-written workflow",
            ),
        )
    )
    ratio2 = _ratio(fan_gz, fan_hand)
    targets.append(
        (
            "2. fan-out throughput vs hand-written (>= 0.9x)",
            f"{_num(ratio2, '.2f')}x python, {_num(_ratio(noop_gz, noop_hand), '.2f')}x no-op",
            ">= 0.9x",
            _verdict(None if ratio2 is None else ratio2 >= 0.9),
        )
    )
    chat = r.get("chat") or {}
    na = _unavailable(chat)
    added = chat.get("added_p50_ms")
    targets.append(
        (
            "3. durable chat(): added latency p50 / p95",
            na
            or f"+{_num(added, '.1f')} / +{_num(chat.get('added_p95_ms'), '.1f')} ms "
            f"(direct p50 {_num(chat.get('direct_p50_ms'), '.1f')} ms, double {chat.get('latency_ms')} ms; floor: "
            f"a hand-written workflow with the same local activity adds +{_num(chat.get('hand_added_p50_ms'), '.1f')} ms)",
            "<= 20 ms p50",
            NA
            if na
            else _verdict(
                _within(added, 20), _within(chat.get("hand_added_p50_ms"), 20), "the hand-written workflow"
            ),
        )
    )
    compat = r.get("compat") or {}
    na = _unavailable(compat)
    targets.append(
        (
            "8. /v1/chat/completions (gleitzeit serve): added latency p50 / p95; throughput",
            na
            or f"+{_num(compat.get('added_p50_ms'), '.1f')} / +{_num(compat.get('added_p95_ms'), '.1f')} ms over a "
            f"direct call (p50 {_num(compat.get('direct_p50_ms'), '.1f')} ms; floor: a hand-written workflow adds "
            f"+{_num(compat.get('hand_added_p50_ms'), '.1f')} / +{_num(compat.get('hand_added_p95_ms'), '.1f')} ms); "
            f"{compat.get('concurrent')} at once: {_num(compat.get('endpoint_rps'), '.0f')} req/s vs "
            f"{_num(compat.get('direct_rps'), '.0f')} direct",
            "measured",
            NA if na else "-",
        )
    )
    pool = r.get("pool") or {}
    na = _unavailable(pool)
    ratio9 = pool.get("ratio")
    targets.append(
        (
            "10. chat fan-out over two LLM hosts vs one: throughput",
            na
            or f"{_num(ratio9, '.2f')}x ({pool.get('tasks')} tasks, {pool.get('latency_ms')} ms each, "
            f"{pool.get('per_host')} at once per host: {_num(pool.get('one_host_s'), '.1f')} s on one host "
            f"(ideal {_num(pool.get('ideal_one_host_s'), '.1f')} s), {_num(pool.get('two_hosts_s'), '.1f')} s "
            f"on two; served {pool.get('served')})",
            ">= 1.8x",
            NA if na else _verdict(None if ratio9 is None else ratio9 >= 1.8),
        )
    )
    llm_tp = r.get("llm_throughput") or {}
    na = _unavailable(llm_tp)
    ratio11 = llm_tp.get("ratio")
    targets.append(
        (
            "11. real LLM chats: pipeline vs max(direct to the same server, xllamacpp's own server), tokens/s",
            na
            or f"{_num(ratio11, '.2f')}x ({llm_tp.get('chats')} chats of <= {llm_tp.get('max_tokens')} tokens, "
            f"{llm_tp.get('in_flight')} in flight on {llm_tp.get('slots')} slots, median of {llm_tp.get('rounds')}: "
            f"pipeline {_num(llm_tp.get('pipeline_tps'), '.0f')}, direct {_num(llm_tp.get('direct_tps'), '.0f')}, "
            f"xllamacpp {_num(llm_tp.get('xllamacpp_tps'), '.0f')} tokens/s; slots busy "
            f"{_num(llm_tp.get('pipeline_slots_busy'), '.0%')} / {_num(llm_tp.get('direct_slots_busy'), '.0%')} / "
            f"{_num(llm_tp.get('xllamacpp_slots_busy'), '.0%')}; the yardstick, a hand-written Temporal workflow "
            f"of the same activity: {_num(llm_tp.get('temporal_tps'), '.0f')} tokens/s, "
            f"{_num(llm_tp.get('temporal_ratio'), '.2f')}x)",
            ">= 0.95x",
            NA if na else _verdict(None if ratio11 is None else ratio11 >= 0.95),
        )
    )
    batch = r.get("batch") or {}
    na = _unavailable(batch)
    ratio4 = batch.get("ratio_to_ideal")
    targets.append(
        (
            "4. batch_process wall time vs ideal",
            na
            or f"{_num(ratio4, '.2f')}x ({batch.get('items')} items, {_num(batch.get('wall_s'), '.1f')} s vs "
            f"{_num(batch.get('ideal_s'), '.1f')} s = items x {batch.get('latency_ms')} ms / "
            f"{batch.get('max_concurrent')}; {batch.get('failed')} failed; floor: direct ollama calls "
            f"{_num(batch.get('direct_ratio_to_ideal'), '.2f')}x, ours {_num(batch.get('ratio_to_direct'), '.2f')}x "
            f"of that; {batch.get('requests')} requests, {batch.get('requested_twice')} files twice; "
            f"{batch.get('runs')} runs (continue-as-new), at most {batch.get('max_history_events')} events / "
            f"{_num((batch.get('max_history_bytes') or 0) / 1_048_576, '.1f')} MB of history each)",
            "<= 1.2x",
            NA
            if na
            else _verdict(
                _within(ratio4, 1.2),
                _within(batch.get("direct_ratio_to_ideal"), 1.2),
                "calling ollama directly",
            ),
        )
    )
    items, twice = batch.get("items"), batch.get("requested_twice")
    once = None if twice is None else (batch.get("completed") == batch.get("requests") == items and not twice)
    targets.append(
        (
            "4. every file's result there, each file requested once",
            na
            or f"{batch.get('completed')} results, {batch.get('requests')} requests of {items} files, {twice} twice",
            "all, once",
            NA if na else _verdict(once),
        )
    )
    peak = batch.get("worker_peak_rss_mb")
    targets.append(
        (
            "5. worker peak memory during 4",
            na or f"{_num(peak, '.0f')} MB",
            "< 500 MB",
            NA if na else _verdict(None if peak is None else peak < 500),
        )
    )
    workers = r.get("batch_workers") or {}
    if workers:
        na = _unavailable(workers)
        ratio4b = workers.get("ratio")
        targets.append(
            (
                "4b. the same batch on two worker processes vs one",
                na
                or f"{_num(ratio4b, '.2f')}x ({workers.get('items')} items of {workers.get('latency_ms')} ms, "
                f"{workers.get('per_worker')} per worker, {workers.get('max_concurrent')} in the batch and "
                f"the double: one worker {_num(workers.get('one_worker_s'), '.1f')} s (ideal "
                f"{_num(workers.get('ideal_one_s'), '.1f')}), two {_num(workers.get('two_workers_s'), '.1f')} s "
                f"(ideal {_num(workers.get('ideal_two_s'), '.1f')}); {workers.get('failed')} failed, "
                f"{workers.get('requested_twice')} files twice)",
                "<= 0.6x",
                NA if na else _verdict(_within(ratio4b, 0.6)),
            )
        )
    repeat = r.get("repeat") or {}
    na = _unavailable(repeat)
    overhead = repeat.get("overhead_p95_s")
    floor = repeat.get("import_floor_s")
    targets.append(
        (
            "7. repeated `gleitzeit run`: wall minus workflow time p50 / p95",
            na
            or f"{_num(repeat.get('overhead_p50_s'), '.2f')} / {_num(overhead, '.2f')} s ({repeat.get('runs')} runs "
            f"of a 3-task python pipeline; first activity {_num(repeat.get('pickup_p95_s'), '.2f')} s after the "
            f"start at p95; {repeat.get('waited_grace')} waited the grace; floor: importing what `gleitzeit run` imports "
            f"{_num(floor, '.2f')} s)",
            "<= 1 s p95",
            NA
            if na
            else _verdict(
                _within(overhead, 1.0), _within(floor, 1.0), "importing what `gleitzeit run` imports"
            ),
        )
    )
    start = r.get("cli_start") or {}
    na = _unavailable(start)
    help_ratio, validate_ratio = start.get("help_ratio"), start.get("validate_ratio")
    target = start.get("target", 3.0)
    targets.append(
        (
            '9. CLI start: `gleitzeit --help` / `gleitzeit validate` (5 tasks) vs `python -c "import yaml, '
            'pydantic"`',
            na
            or f"{_num(help_ratio, '.2f')}x / {_num(validate_ratio, '.2f')}x ({_num(start.get('help_s'), '.2f')} / "
            f"{_num(start.get('validate_s'), '.2f')} s vs {_num(start.get('yardstick_s'), '.2f')} s, median of "
            f"{start.get('rounds')}; CPU time {_num(start.get('help_cpu_ratio'), '.2f')}x / "
            f"{_num(start.get('validate_cpu_ratio'), '.2f')}x)",
            f"<= {target:g}x",
            NA
            if na
            else _verdict(
                None
                if help_ratio is None or validate_ratio is None
                else max(help_ratio, validate_ratio) <= target
            ),
        )
    )
    targets.append(_results_fanout_row(r.get("results_fanout") or {}))
    llm = r.get("llm_server") or {}
    na = _unavailable(llm)
    targets.append(
        (
            "LLM server: decode tokens/s, server vs in-process",
            na
            or f"{_num(llm.get('ratio_decode'), '.2f')}x ({_num(llm.get('server_decode_tps'), '.0f')} vs "
            f"{_num(llm.get('inprocess_decode_tps'), '.0f')} tokens/s)",
            ">= 0.9x",
            NA if na else _verdict(None if llm.get("ratio_decode") is None else llm["ratio_decode"] >= 0.9),
        )
    )
    tests = r.get("pipeline_tests") or {}
    na = _unavailable(tests)
    targets.append(
        (
            f"6. gleitzeit test: {tests.get('cases', '?')} cases of a {tests.get('tasks', '?')}-task pipeline",
            na
            or f"{_num(tests.get('wall_s'), '.1f')} s in one invocation ({_num(tests.get('cases_wall_s'), '.1f')} s "
            f"running cases; per case median {_num(tests.get('per_case_ms_median'), '.0f')} ms, p95 "
            f"{_num(tests.get('per_case_ms_p95'), '.0f')} ms; {_num(tests.get('virtual_h'), '.0f')} h of retry "
            f"backoff skipped; {tests.get('passed')} passed)",
            "seconds, not hours",
            NA if na else _verdict(None if tests.get("wall_s") is None else tests["wall_s"] < 60),
        )
    )
    lines += ["", "| ratio | measured | target | |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(t) + " |" for t in targets]
    problems = orig.get("problems") or []
    if orig.get("error"):
        problems = [orig["error"], *problems]
    if problems:
        lines += ["", "Original 0.0.5: " + "; ".join(problems)]
    return "\n".join(lines)


def _results_fanout_row(res: dict[str, Any]) -> tuple[str, str, str, str]:
    """Row 12: the fan-out returning 10 KB per task vs the hand-written one (time; history size)."""
    na = _unavailable(res)
    gz, hand = res.get("gleitzeit") or {}, res.get("temporal") or {}
    ratio = res.get("time_ratio")
    return (
        f"12. fan-out of {res.get('n', '?')} python tasks (max_parallel {res.get('cap', '?')}) returning "
        f"{res.get('kb', '?')} KB each vs hand-written: time; history",
        na
        or f"{_num(ratio, '.2f')}x ({_num(gz.get('median_s'), '.1f')} vs {_num(hand.get('median_s'), '.1f')} s, "
        f"median of {res.get('reps')}); history {gz.get('events')} vs {hand.get('events')} events "
        f"({_num(res.get('events_ratio'), '.2f')}x), {_num(_ratio(gz.get('bytes'), 1e6), '.1f')} vs "
        f"{_num(_ratio(hand.get('bytes'), 1e6), '.1f')} MB ({_num(res.get('bytes_ratio'), '.2f')}x: the run's "
        "result, capped at 1.5 MB)",
        "<= 1.1x time",
        NA if na else _verdict(_within(ratio, 1.1)),
    )
