"""A task result over Temporal's payload limit is offloaded to the data dir and the run completes: a
later task's ``${big.result...}`` references, the run's outputs and the client's results (native and
REST API) see the whole value. Real dev server, worker and local executor (the session stack)."""

from __future__ import annotations

import pytest

from gleitzeit import GleitzeitClient
from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(180)]

ROWS = 30_000  # ~3 MB of JSON: over the 2 MiB Temporal takes in one payload

PIPELINE = {
    "name": "large results",
    "tasks": [
        {
            "id": "big",
            "method": "python/execute",
            "parameters": {
                "code": (
                    "import json, os\n"
                    f"rows = [{{'i': i, 'text': 'y' * 90}} for i in range({ROWS})]\n"
                    "with open(os.environ['GLEITZEIT_RESULT_FILE'], 'w') as f:\n"
                    "    json.dump({'rows': rows, 'n': len(rows)}, f)\n"
                )
            },
        },
        {
            "id": "use",
            "method": "python/execute",
            "dependencies": ["big"],
            "parameters": {
                "context": {
                    "rows": "${big.result.rows}",
                    "n": "${big.result.n}",
                    "label": "n=${big.result.n}",
                },
                "code": (
                    "import json\n"
                    "rows = context['rows']\n"
                    "print(json.dumps({'count': len(rows), 'last': rows[-1]['i'], 'n': context['n'],"
                    " 'label': context['label']}))\n"
                ),
            },
        },
    ],
    "outputs": {"n": "${big.result.n}", "last": "${big.result.rows[-1].i}"},
}


@pytest.mark.parametrize("mode", ["native", "api"])
async def test_a_result_over_the_payload_limit_is_offloaded_and_referenced(
    client_stack: ClientStack, mode: str
) -> None:
    client: GleitzeitClient = client_stack.client(mode)
    result = await client.run_workflow(PIPELINE, timeout=150)
    assert result["use"]["result"] == {"count": ROWS, "last": ROWS - 1, "n": ROWS, "label": f"n={ROWS}"}
    big = result["big"]["result"]
    assert (
        big["n"] == ROWS and len(big["rows"]) == ROWS and big["rows"][-1] == {"i": ROWS - 1, "text": "y" * 90}
    )
    assert result.outputs == {"n": ROWS, "last": ROWS - 1}
    assert list((client_stack.settings.data_dir / "results").glob("*.json"))
