"""The domain knows nothing of the transport: `rooms/` imports no live, starlette, redis, jinja2."""

from __future__ import annotations

import ast
from pathlib import Path

ROOMS = Path(__file__).resolve().parent.parent / "rooms"
FORBIDDEN = {"live", "starlette", "redis", "jinja2", "uvicorn", "websockets"}


def test_rooms_imports_nothing_from_the_transport() -> None:
    offenders = []
    for path in ROOMS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert offenders == []
    assert len(list(ROOMS.rglob("*.py"))) >= 5  # the walk really saw the domain
