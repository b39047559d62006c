"""The polls feature's live panels: what each screen shows of it, and when it is stale; and
how a page's poll forms become the bodies of poll actions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from live.screens import FormReader, Panel, Summary, Viewer, console
from live.screens.forms import checkboxes
from rooms import breakout, polls, sessions
from rooms.errors import invalid
from rooms.models import Event
from rooms.polls import copying

POLL_EVENTS = frozenset({"poll.created", "poll.opened", "poll.closed", "poll.hidden"})


def now_first(shown: list[polls.Poll]) -> set[str]:
    """The polls a phone shows first: every open one; with none open, the one closed last,
    once, while its results are shown to participants. The rest fold away as earlier polls."""
    opened = {p.id for p in shown if p.status == "open"}
    if opened:
        return opened
    closed = [p for p in shown if p.status == "closed"]
    if not closed:
        return set()
    last = max(closed, key=lambda p: p.closed_at or p.opened_at or p.created_at)
    return {last.id} if polls.results_visible(last, "participant") else set()


async def participant_polls(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The polls shown first (their forms), and what this participant answered while open."""
    shown = await polls.shown_polls(db, viewer.audience.session_id, viewer.audience.room_id)
    now = now_first(shown)
    shown = [p for p in shown if p.id in now]
    pid = viewer.participant_id
    mine: dict[str, dict[str, Any]] = {}
    answered: set[str] = set()
    if pid is not None and shown:
        answered, mine = await polls.own_answers(db, pid, [p.id for p in shown])
    return {
        "polls": shown,
        "options": await polls.options_by_poll(db, shown),
        "mine": mine,
        "answered": answered,
    }


async def participant_results(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The live results of the polls shown first, where participants may see them."""
    shown = await polls.shown_polls(db, viewer.audience.session_id, viewer.audience.room_id)
    now = now_first(shown)
    listed = [
        {"poll": polls.poll_brief(p), "results": await polls.results(db, p)}
        for p in shown
        if p.id in now and polls.results_visible(p, "participant")
    ]
    return {"shown": listed}


async def participant_history(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The closed polls no longer shown first, newest first: folded away at the foot of the
    phone, with their results where participants may see them (else the count of answers).
    In a room, the plenary's closed polls are among them."""
    sid, room = viewer.audience.session_id, viewer.audience.room_id
    shown = await polls.shown_polls(db, sid, room)
    now = now_first(shown)
    if room is not None:
        shown += await polls.shown_polls(db, sid, None)
        shown.sort(key=lambda p: p.closed_at or p.opened_at or p.created_at, reverse=True)
    earlier = []
    for p in shown:
        if p.id in now or p.status != "closed":
            continue
        found = await polls.results(db, p)
        visible = polls.results_visible(p, "participant")
        earlier.append(
            {
                "poll": polls.poll_brief(p),
                "voters": found["voters"],
                "results": found if visible else None,
            }
        )
    return {"earlier": earlier}


async def moderator_polls(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """Every poll of the session, newest first, with its results and its room's name; a
    poll with options or a scale also split by each of the session's join questions (the
    console shows the one the moderator picks)."""
    found = await polls.polls_of(db, viewer.audience.session_id)
    found.reverse()
    asked = (await sessions.session_by_id(db, viewer.audience.session_id)).attributes
    listed = [
        {
            "poll": polls.poll_brief(p),
            "results": await polls.results(db, p, moderator=True),
            "splits": await polls.split_results(db, p, asked) if splittable(p) else [],
        }
        for p in found
    ]
    return {
        "listed": listed,
        "room_names": await breakout.room_names(db, viewer.audience.session_id),
    }


def splittable(poll: polls.Poll) -> bool:
    """Whether a split by a join question says something: counts of options or values."""
    return poll.status != "draft" and (poll.kind in polls.WITH_OPTIONS or poll.kind == "scale")


async def create_form(db: AsyncSession, viewer: Viewer) -> dict[str, Any]:
    """The new poll's form: its kinds, the open rooms to pick by name, and the polls of the
    organiser's other sessions to reuse."""
    sid = viewer.audience.session_id
    return {
        "kinds": polls.KINDS,
        "rooms": await console.open_rooms(db, sid),
        "reusable": await copying.reusable_sessions(db, sid) if viewer.audience.owner else [],
    }


async def results_summary(db: AsyncSession, session_id: str, event: Event) -> dict[str, Any]:
    """A vote storm's one message per tick carries the totals as everyone may see them."""
    found = await polls.live_results(db, session_id, event.data.get("poll_id"))
    return event.data if found is None else found


# -- forms ------------------------------------------------------------------------------------
# htmx sends every field as text, a ticked checkbox as "on" and an unticked one not at all.


def answer_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """A browser form's fields as the API's answer: form values arrive as text."""

    def listed(key: str) -> list[Any]:
        raw = message.get(key)
        items = raw if isinstance(raw, list) else [] if raw is None else [raw]
        return [i for i in items if not (isinstance(i, str) and not i.strip())]

    answer: dict[str, Any] = {}
    if "choices" in message:
        answer["choices"] = listed("choices")
    ranks = {k[5:]: v for k, v in message.items() if k.startswith("rank_")}
    if ranks:
        try:
            places = {oid: int(v) for oid, v in ranks.items()}
        except (TypeError, ValueError):
            raise invalid("Give every option a place.") from None
        if len(set(places.values())) != len(places):
            raise invalid("Give every option a different place.")
        answer["choices"] = sorted(places, key=lambda oid: places[oid])
    if "value" in message:
        value = message["value"]
        try:
            answer["value"] = int(value) if isinstance(value, str) else value
        except ValueError:
            raise invalid("Choose a value on the scale.") from None
    if "words" in message:
        answer["words"] = listed("words")
    if "text" in message:
        answer["text"] = message["text"]
    return answer


def vote_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """The poll form of a participant: which poll, and the answer."""
    named = {"poll_id": message["poll_id"]} if "poll_id" in message else {}
    return {**named, **answer_from_form(message)}


def poll_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """The moderator's form: options one a line, scale ends as numbers, checkboxes as "on".
    What is not text (a JSON client's list of options, its scale object) is left as sent,
    for the body to judge as the API's."""
    kind = message.get("kind")
    body: dict[str, Any] = {
        "question": message.get("question"),
        "kind": kind,
        "show_results": message.get("show_results") or "live",
        "allow_change": checkboxes(message, "allow_change")["allow_change"],
        "room_id": _text_or_none(message.get("room_id")),
    }
    options = message.get("options")
    if kind in polls.WITH_OPTIONS:
        if options is None:
            raise invalid("Write the options one a line.")
        body["options"] = _lines(options)
    elif options is not None and not isinstance(options, str):
        body["options"] = options  # the form's empty box is no options; a list is judged
    choices = message.get("max_choices")
    if not isinstance(choices, str) and choices is not None:
        body["max_choices"] = choices
    elif kind == "multiple" and (choices or "").strip():
        body["max_choices"] = _whole(choices, "max_choices")
    if "scale" in message:
        body["scale"] = message["scale"]
    elif kind == "scale":
        body["scale"] = {
            "min": _whole(message.get("scale_min") or 1, "The scale's min"),
            "max": _whole(message.get("scale_max") or 5, "The scale's max"),
            "min_label": message.get("min_label") or None,
            "max_label": message.get("max_label") or None,
        }
    return body


def _text_or_none(raw: Any) -> Any:
    return (raw.strip() or None) if isinstance(raw, str) else raw


def _lines(raw: Any) -> Any:
    if isinstance(raw, str):
        return [line for line in raw.splitlines() if line.strip()]
    return raw


def _whole(raw: Any, what: str) -> int:
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise invalid(f"{what} must be a whole number.") from None


def import_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """The reuse form: one ticked poll arrives as text, several as a list, none not at all."""
    chosen = message.get("poll_ids", [])
    return {**message, "poll_ids": [chosen] if isinstance(chosen, str) else chosen}


def hiding_from_form(message: dict[str, Any]) -> dict[str, Any]:
    """A hide or show button: `hidden` is the text "true" to hide, "false" to show."""
    hidden = message.get("hidden")
    return {**message, "hidden": hidden == "true"} if isinstance(hidden, str) else message


PANELS: tuple[Panel, ...] = (
    Panel(
        "polls",
        "polls/_polls.html",
        frozenset({"participant"}),
        frozenset({"poll.opened", "poll.closed"}),
        participant_polls,
        personal=True,
    ),
    Panel(
        "poll-results",
        "polls/_results.html",
        frozenset({"participant"}),
        frozenset({"poll.results", *POLL_EVENTS}),
        participant_results,
        json=True,
        own_rooms=polls.rooms_with_polls,
    ),
    Panel(
        "poll-history",
        "polls/_history.html",
        frozenset({"participant"}),
        POLL_EVENTS,
        participant_history,
        json=True,
        own_rooms=polls.rooms_with_polls,
    ),
    Panel(
        "poll-control",
        "polls/_control.html",
        frozenset({"moderator"}),
        frozenset({"poll.results", *POLL_EVENTS}),
        moderator_polls,
        json=True,
    ),
    Panel(
        "poll-create",
        "polls/_create.html",
        frozenset({"moderator"}),
        frozenset({"poll.created", "rooms.opened", "rooms.prepared", "rooms.closed"}),
        create_form,
    ),
)
SUMMARIES: Mapping[str, Summary] = {"poll.results": results_summary}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {"poll.vote": "polls"}
FORMS: Mapping[str, FormReader] = {
    "poll.vote": vote_from_form,
    "poll.create": poll_from_form,
    "poll.import": import_from_form,
    "poll.hide_answer": hiding_from_form,
    "poll.hide_word": hiding_from_form,
}
