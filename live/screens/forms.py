"""How a page's form arrives over its socket: htmx sends every field as text, a ticked
checkbox as "on" and an unticked one not at all. The form readers in `live/screens/` turn
that into an action's body; a value that is not text (a JSON client's) is left as it came,
for the action's model to accept or refuse by name, as it does for the API."""

from __future__ import annotations

from typing import Any

CHECKED = ("on", "true", "1", "yes")  # what a ticked checkbox (or a form's flag) sends


def checkboxes(form: dict[str, Any], *names: str) -> dict[str, Any]:
    """The form with these checkboxes as booleans: unticked (absent) is false."""
    out = dict(form)
    for name in names:
        value = form.get(name)
        if value is None or isinstance(value, str):
            out[name] = value in CHECKED
    return out
