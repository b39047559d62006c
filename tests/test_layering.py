"""The layers hold: `rooms/` is the domain (no transport, no templates, no socket message
types, no form parsing), modules stay small, and nothing registers itself on import."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent.parent
ROOMS = HERE / "rooms"
LIVE = HERE / "live"
FORBIDDEN = {"live", "starlette", "redis", "jinja2", "uvicorn", "websockets"}
# A module longer than this holds more than one concern (the house style's models: the
# largest module of Starlette is 876 lines, broadcaster is 400 in all).
LINES_MAX = 600


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


# -- detectors: each takes a module's source and says what in it belongs to the screens ------


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings (prose may name anything)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _strings(tree: ast.AST) -> Iterator[ast.Constant]:
    skip = _docstrings(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            yield node


# A template's name: a file name ending in .html (an f-string's bare ".html", as in
# `f"{stem}.html"`, is a file of the archive, not a template).
_TEMPLATE = re.compile(r"[\w-]\.html$")


def templates_named(source: str) -> list[str]:
    """String literals that name a template: `"polls/_poll.html"`, `"templates/…"`."""
    return [
        f"line {s.lineno}: {s.value!r}"
        for s in _strings(ast.parse(source))
        if isinstance(s.value, str) and (_TEMPLATE.search(s.value) or "templates/" in s.value)
    ]


def event_types(source: str) -> set[str]:
    """The event types a module makes: the literal type of each `Event(...)` it builds."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Call) and _called(node) == "Event"):
            continue
        args = [*node.args[:1], *(k.value for k in node.keywords if k.arg == "type")]
        found |= {a.value for a in args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return found


def message_types_named(source: str, message_types: set[str]) -> list[str]:
    """String literals equal to a socket message type (`"note.add"`). An event type that
    happens to be spelled like a message (`"rooms.help"` is both) is the domain's own word
    only where the domain makes that event; the caller leaves those out of `message_types`."""
    return [
        f"line {s.lineno}: {s.value!r}"
        for s in _strings(ast.parse(source))
        if s.value in message_types
    ]


def _called(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Name):
        return call.func.id
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    return None


def _holds_on(node: ast.expr) -> bool:
    return isinstance(node, ast.Tuple | ast.List | ast.Set) and any(
        isinstance(e, ast.Constant) and e.value == "on" for e in node.elts
    )


def form_parsing(source: str) -> list[str]:
    """What reads an HTML form: a ticked checkbox's `"on"` (`x in ("on", "true", "1")`),
    a form's `.getlist(…)`, a request's `form(…)`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) and _holds_on(right)
            for op, right in zip(node.ops, node.comparators, strict=True)
        ):
            found.append(f"line {node.lineno}: a comparison with a checkbox's 'on'")
        if isinstance(node, ast.Call) and _called(node) in ("getlist", "form"):
            found.append(f"line {node.lineno}: {_called(node)}(…)")
    return found


# -- each detector catches what it is for ------------------------------------------------------


def test_the_template_detector_catches_a_template_name() -> None:
    assert templates_named('@panel("polls", "polls/_poll.html")\ndef f(): pass\n')
    assert templates_named('ROOT = "templates/polls"\n')
    assert templates_named('x = "polls/_poll.htm"\n') == []
    assert templates_named('name = f"{stem}.html"\n') == []  # an archive's file
    assert templates_named('"""A docstring naming polls/_poll.html."""\n') == []


def test_the_message_type_detector_catches_a_message_type_but_not_an_event_type() -> None:
    source = '@action("note.add", roles={"participant"})\ndef f(): return Event("note.added")\n'
    assert message_types_named(source, {"note.add"}) == ["line 1: 'note.add'"]
    assert message_types_named('Event("note.added", {})\n', {"note.add"}) == []
    # An event spelled like a message: made by the domain, so it is the domain's own word.
    made = 'Event("rooms.help", {"room_id": r})\n'
    assert event_types(made) == {"rooms.help"}
    assert event_types('Event(type="rooms.help")\n') == {"rooms.help"}
    assert message_types_named(made, {"rooms.help"} - event_types(made)) == []


def test_the_form_detector_catches_form_parsing() -> None:
    assert form_parsing('ok = message.get("anonymous") in (True, "on", "true", "1")\n')
    assert form_parsing('ok = value not in {"on"}\n')
    assert form_parsing('ids = form.getlist("choices")\n')
    assert form_parsing("async def f(request):\n    data = await request.form()\n")
    assert form_parsing('ok = kind in ("one", "two")\n') == []


# -- the domain holds no screens ---------------------------------------------------------------


def _sources(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(HERE)): p.read_text()
        for p in sorted(root.rglob("*.py"))
        if "__pycache__" not in p.parts
    }


def _message_types() -> set[str]:
    """Every socket message type: the listed actions, the ones with a reply panel, and any
    still registered the older way (by decorator in the domain) while that way lasts."""
    app = importlib.import_module("live.app")
    found = set(app.ACTIONS) | set(app.SCREENS.replies)
    if importlib.util.find_spec("rooms.panels") is not None:
        found |= set(getattr(importlib.import_module("rooms.panels"), "_actions", {}))
    return found


def test_the_domain_names_no_template() -> None:
    found = {name: hits for name, src in _sources(ROOMS).items() if (hits := templates_named(src))}
    assert found == {}


def test_the_domain_names_no_socket_message_type() -> None:
    sources = _sources(ROOMS)
    made = set().union(*(event_types(src) for src in sources.values()))
    messages = _message_types()
    assert {"note.add", "poll.vote", "question.ask"} <= messages  # the set is really read
    assert "note.added" in made and "poll.results" in made  # and so are the domain's events
    found = {
        name: hits
        for name, src in sources.items()
        if (hits := message_types_named(src, messages - made))
    }
    assert found == {}


def test_the_domain_parses_no_form() -> None:
    found = {name: hits for name, src in _sources(ROOMS).items() if (hits := form_parsing(src))}
    assert found == {}


def test_no_module_is_over_600_lines() -> None:
    sources = {**_sources(LIVE), **_sources(ROOMS)}
    assert len(sources) > 20
    long = {name: n for name, src in sources.items() if (n := len(src.splitlines())) > LINES_MAX}
    assert long == {}


# -- nothing registers itself on import ---------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "name"),
    [
        pytest.param("rooms.panels", None, id="rooms.panels"),
        pytest.param("live.api.base", "endpoint", id="live.api.base.endpoint"),
        pytest.param("live.sockets", "commits", id="live.sockets.commits"),
    ],
)
def test_nothing_registers_by_decorator(module: str, name: str | None) -> None:
    """Routes, panels and actions are listed where the app is assembled (live/app.py), not
    collected by decorators as modules happen to be imported."""
    if name is None:
        assert importlib.util.find_spec(module) is None, f"{module} still exists"
    else:
        assert not hasattr(importlib.import_module(module), name), f"{module}.{name} still exists"
