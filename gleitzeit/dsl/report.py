"""Collects validation problems, locating each through the YAML positions of its path."""

from __future__ import annotations

from dataclasses import dataclass, field

from gleitzeit.core.errors import Problem
from gleitzeit.dsl.positions import Path, Positions

__all__ = ["Reporter", "key_of"]


def key_of(path: Path) -> str:
    """Dotted key text for a path: ``("parameters", "messages", 0, "role")`` -> ``parameters.messages[0].role``."""
    out = ""
    for seg in path:
        if isinstance(seg, int):
            out += f"[{seg}]"
        else:
            out += f".{seg}" if out else str(seg)
    return out


@dataclass
class Reporter:
    file: str | None
    positions: Positions = field(default_factory=Positions)
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        code: str,
        message: str,
        path: Path,
        *,
        task: str | None = None,
        key: str | None = None,
        hint: str | None = None,
        at: str = "value",
    ) -> None:
        """Record a problem at ``path`` (the key or the value it names, else its nearest ancestor)."""
        line, column = self.positions.locate(path, at)
        self.problems.append(
            Problem(
                message=message,
                file=self.file,
                line=line,
                column=column,
                task=task,
                key=key,
                hint=hint,
                code=code,
            )
        )

    def line_of(self, path: Path) -> int | None:
        return self.positions.locate(path)[0]

    def sorted(self) -> list[Problem]:
        """Problems in file order; problems without a line keep their order, after the located ones."""
        return sorted(self.problems, key=lambda p: (p.line is None, p.line or 0, p.column or 0))
