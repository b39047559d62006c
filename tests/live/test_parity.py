"""One path per action: a socket message and its API endpoint are refused alike.

Each action that has both a socket message (over the JSON event stream) and an API
endpoint is sent both ways, and both ways must give the same answer: the same refusal of a
body of the wrong shape (`invalid`, naming the field), of the wrong role (`forbidden`), of
a closed session (`session_closed`), and the same quota, one bucket whichever way a
participant spends it."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from live import app, quotas
from rooms import minutes
from tests.conftest import Api, Served, Stream, free_port, make_settings, open_stream

Message = dict[str, Any]
Request = tuple[str, str, Any]  # method, path, JSON body (None: no body)
Answer = tuple[str, str | None]  # ("ok", None) or (error code, error message)


# -- one Samla for the whole module: each test makes its own session ---------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp: Path = tmp_path_factory.mktemp("parity")
    one = Served(make_settings(tmp), free_port())
    one.start()
    yield one
    one.stop()


@pytest.fixture
async def api(served: Served) -> AsyncIterator[Api]:
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        made = Api(served, client)
        # Signing in hashes a password (slow on purpose): once for the module.
        made._organiser = served.extra.get("organiser")
        yield made
        served.extra["organiser"] = made._organiser


# -- what each action needs --------------------------------------------------------------------


@dataclass
class World:
    """A session with a moderator and two participants, and what an action acts on, made
    through the API when first asked for."""

    api: Api
    session: dict[str, Any]
    anna: dict[str, Any]
    erik: dict[str, Any]
    made: dict[str, Any] = field(default_factory=dict)

    @property
    def sid(self) -> str:
        return str(self.session["id"])

    @property
    def mod(self) -> str:
        return str(self.session["moderator_token"])

    async def ok(self, method: str, path: str, token: str, body: Any = None) -> Any:
        r = await self.api.call(method, path, token, **({} if body is None else {"json": body}))
        assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content else None

    async def _once(self, key: str, make: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self.made:
            self.made[key] = await make()
        return self.made[key]

    async def board(self) -> dict[str, Any]:
        body = {"title": "Idéer", "columns": ["Idéer", "Frågor"]}
        return await self._once(  # type: ignore[no-any-return]
            "board", lambda: self.ok("POST", f"/api/v1/sessions/{self.sid}/boards", self.mod, body)
        )

    async def column(self) -> str:
        return str((await self.board())["columns"][0]["id"])

    async def note(self) -> dict[str, Any]:
        board, column = await self.board(), await self.column()
        body = {"column": column, "text": "en lapp"}
        path = f"/api/v1/boards/{board['id']}/notes"
        return await self._once("note", lambda: self.ok("POST", path, self.anna["token"], body))  # type: ignore[no-any-return]

    async def dot_vote(self) -> dict[str, Any]:
        board = await self.board()
        await self.note()
        path = f"/api/v1/boards/{board['id']}/dot-votes"
        body = {"scope": "all", "dots": 3}
        return await self._once("dots", lambda: self.ok("POST", path, self.mod, body))  # type: ignore[no-any-return]

    async def poll(self, kind: str = "single", opened: bool = True) -> dict[str, Any]:
        async def make() -> Any:
            body: dict[str, Any] = {"question": "Vad behövs?", "kind": kind, "allow_change": True}
            if kind == "single":
                body["options"] = ["Tid", "Pengar"]
            poll = await self.ok("POST", f"/api/v1/sessions/{self.sid}/polls", self.mod, body)
            if opened:
                await self.ok("POST", f"/api/v1/polls/{poll['id']}/open", self.mod)
            return poll

        return await self._once(f"poll:{kind}:{opened}", make)  # type: ignore[no-any-return]

    async def open_answer(self) -> tuple[str, str]:
        """An open poll's one answer: (poll id, answer id)."""
        poll = await self.poll("open")
        if "answer" not in self.made:
            path = f"/api/v1/polls/{poll['id']}/votes"
            await self.ok("POST", path, self.anna["token"], {"text": "Mer dialog"})
            found = await self.ok("GET", f"/api/v1/polls/{poll['id']}/results", self.mod)
            self.made["answer"] = found["answers"][0]["id"]
        return str(poll["id"]), str(self.made["answer"])

    async def question(self) -> dict[str, Any]:
        path = f"/api/v1/sessions/{self.sid}/questions"
        body = {"text": "Hur når vi fler?"}
        return await self._once("question", lambda: self.ok("POST", path, self.anna["token"], body))  # type: ignore[no-any-return]

    async def room(self) -> str:
        """An open round of one room, with everyone in it."""
        body = {"count": 1, "assignment": "random", "minutes": 10}
        path = f"/api/v1/sessions/{self.sid}/rooms"
        opened = await self._once("rooms", lambda: self.ok("POST", path, self.mod, body))
        return str(opened["rooms"][0]["id"])

    async def minutes(self) -> str:
        """The open room, its minutes holding a passage to collect."""
        room = await self.room()

        async def written() -> str:
            async with self.api.served.samla.store.write() as db:
                target, _ = await minutes.room_target(db, room)
                await minutes.append_text(db, target, "Vi ses igen i vår")
            return room

        return str(await self._once("minutes", written))

    async def own_choice(self) -> str:
        """A room of an open round whose participants choose their own."""
        body = {"count": 2, "assignment": "self", "minutes": 10}
        path = f"/api/v1/sessions/{self.sid}/rooms"
        opened = await self._once("chosen", lambda: self.ok("POST", path, self.mod, body))
        return str(opened["rooms"][0]["id"])


async def make_world(api: Api) -> World:
    session = await api.make_session()
    return World(api, session, await api.join(session, "Anna"), await api.join(session, "Erik"))


# -- the actions, each sent both ways ----------------------------------------------------------

Build = Callable[[World], Awaitable[tuple[Message, Request]]]


@dataclass(frozen=True)
class Case:
    """An action: who may send it, a valid message and request, and (where both ways take
    the same field) a message and request with one field of the wrong type."""

    type: str
    role: str  # "participant" or "moderator"
    valid: Build
    wrong: Build | None = None
    field: str | None = None  # the wrong field, as the API's client names it
    # False where the API's endpoint also takes the other role (for another action).
    role_checked: bool = True


def case(
    type_: str,
    role: str,
    valid: Build,
    wrong: Build | None = None,
    field_: str | None = None,
    *,
    role_checked: bool = True,
) -> Any:
    return pytest.param(Case(type_, role, valid, wrong, field_, role_checked), id=type_)


# participant actions


async def note_add(w: World, text: Any = "en lapp") -> tuple[Message, Request]:
    board, column = await w.board(), await w.column()
    message = {"board": board["id"], "column": column, "text": text}
    return message, (
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        {"column": column, "text": text},
    )


async def note_edit(w: World, text: Any = "ändrad") -> tuple[Message, Request]:
    note = await w.note()
    return {"note": note["id"], "text": text}, (
        "PATCH",
        f"/api/v1/notes/{note['id']}",
        {"text": text},
    )


async def note_delete(w: World) -> tuple[Message, Request]:
    note = await w.note()
    return {"note": note["id"]}, ("DELETE", f"/api/v1/notes/{note['id']}", None)


async def note_like(w: World) -> tuple[Message, Request]:
    note = await w.note()
    return {"note": note["id"]}, ("POST", f"/api/v1/notes/{note['id']}/upvote", None)


async def dot_give(w: World, note_id: Any = None) -> tuple[Message, Request]:
    vote, note = await w.dot_vote(), await w.note()
    given = note["id"] if note_id is None else note_id
    return (
        {"vote": vote["id"], "note_id": given},
        ("POST", f"/api/v1/dot-votes/{vote['id']}/dots", {"note_id": given}),
    )


async def question_ask(w: World, text: Any = "Varför nu?") -> tuple[Message, Request]:
    return {"text": text}, ("POST", f"/api/v1/sessions/{w.sid}/questions", {"text": text})


async def question_like(w: World) -> tuple[Message, Request]:
    q = await w.question()
    return {"question": q["id"]}, ("POST", f"/api/v1/questions/{q['id']}/upvote", None)


async def poll_vote(w: World, choices: Any = None) -> tuple[Message, Request]:
    poll = await w.poll()
    chosen = [poll["options"][0]["id"]] if choices is None else choices
    return (
        {"poll_id": poll["id"], "choices": chosen},
        ("POST", f"/api/v1/polls/{poll['id']}/votes", {"choices": chosen}),
    )


async def rooms_help(w: World) -> tuple[Message, Request]:
    room = await w.room()
    return {}, ("POST", f"/api/v1/rooms/{room}/help", None)


async def rooms_choose(w: World, me: Any = None) -> tuple[Message, Request]:
    room = await w.own_choice()
    body = {} if me is None else {"participant_id": me}
    return {"room_id": room, **body}, ("POST", f"/api/v1/rooms/{room}/members", body)


# moderator actions


async def board_create(w: World, title: Any = "Nya idéer") -> tuple[Message, Request]:
    body = {"title": title, "template": "free"}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/boards", body)


async def board_show(w: World) -> tuple[Message, Request]:
    board = await w.board()
    return {"board": board["id"]}, ("POST", f"/api/v1/boards/{board['id']}/show", None)


async def note_hide(w: World) -> tuple[Message, Request]:
    note = await w.note()
    return {"note": note["id"], "do": "hide"}, ("POST", f"/api/v1/notes/{note['id']}/hide", None)


async def note_move_wrong(w: World) -> tuple[Message, Request]:
    note = await w.note()
    return (
        {"note": note["id"], "do": "move", "column": 123},
        ("POST", f"/api/v1/notes/{note['id']}/move", {"column": 123}),
    )


async def dots_open(w: World, dots: Any = 3) -> tuple[Message, Request]:
    board = await w.board()
    await w.note()
    body = {"scope": "all", "dots": dots}
    return {"board": board["id"], **body}, ("POST", f"/api/v1/boards/{board['id']}/dot-votes", body)


async def dots_close(w: World) -> tuple[Message, Request]:
    vote = await w.dot_vote()
    return {"vote": vote["id"]}, ("POST", f"/api/v1/dot-votes/{vote['id']}/close", None)


async def poll_create(w: World, question: Any = "Vad saknas?") -> tuple[Message, Request]:
    # An open question: no options, which the page's form writes one a line and the API lists.
    body = {"question": question, "kind": "open"}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/polls", body)


async def poll_open(w: World) -> tuple[Message, Request]:
    poll = await w.poll(opened=False)
    return {"poll_id": poll["id"]}, ("POST", f"/api/v1/polls/{poll['id']}/open", None)


async def poll_close(w: World) -> tuple[Message, Request]:
    poll = await w.poll()
    return {"poll_id": poll["id"]}, ("POST", f"/api/v1/polls/{poll['id']}/close", None)


async def poll_hide_answer(w: World, hidden: Any = True) -> tuple[Message, Request]:
    pid, aid = await w.open_answer()
    return (
        {"poll_id": pid, "answer_id": aid, "hidden": hidden},
        ("POST", f"/api/v1/polls/{pid}/answers/{aid}/hide", {"hidden": hidden}),
    )


async def poll_hide_word(w: World, word: Any = "fult") -> tuple[Message, Request]:
    poll = await w.poll("wordcloud")
    body = {"word": word, "hidden": True}
    return {"poll_id": poll["id"], **body}, (
        "POST",
        f"/api/v1/polls/{poll['id']}/hidden-words",
        body,
    )


async def poll_duplicate(w: World) -> tuple[Message, Request]:
    poll = await w.poll(opened=False)
    return {"poll_id": poll["id"]}, ("POST", f"/api/v1/polls/{poll['id']}/duplicate", None)


async def poll_import(w: World, poll_ids: Any = None) -> tuple[Message, Request]:
    """A poll of another session of the same organiser, reused here."""

    async def make() -> dict[str, Any]:
        other = await w.api.make_session("Förra passet")
        body = {"question": "Vad behövs?", "kind": "open"}
        path = f"/api/v1/sessions/{other['id']}/polls"
        poll = await w.ok("POST", path, str(other["moderator_token"]), body)
        return {"from_session_id": other["id"], "poll_ids": [poll["id"]]}

    body = dict(await w._once("import", make))
    if poll_ids is not None:
        body["poll_ids"] = poll_ids
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/polls/import", body)


async def rooms_open(w: World, minutes: Any = 10) -> tuple[Message, Request]:
    # The API's body; the page's form says it as {"by": "count", "amount": 1}.
    body = {"count": 1, "assignment": "random", "minutes": minutes}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/rooms", body)


async def rooms_close(w: World) -> tuple[Message, Request]:
    await w.room()
    return {}, ("POST", f"/api/v1/sessions/{w.sid}/rooms/close", None)


async def rooms_extend(w: World, minutes: Any = 5) -> tuple[Message, Request]:
    await w.room()
    body = {"minutes": minutes}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/rooms/extend", body)


async def rooms_broadcast(w: World, text: Any = "Fem minuter kvar") -> tuple[Message, Request]:
    await w.room()
    body = {"text": text}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/rooms/broadcast", body)


async def rooms_move(w: World, who: Any = None) -> tuple[Message, Request]:
    room = await w.room()
    moved = w.anna["participant_id"] if who is None else who
    return (
        {"participant_id": moved, "room_id": room},
        ("POST", f"/api/v1/rooms/{room}/members", {"participant_id": moved}),
    )


async def rooms_answer_help(w: World) -> tuple[Message, Request]:
    room = await w.room()
    return {"room_id": room}, ("POST", f"/api/v1/rooms/{room}/help/answer", None)


async def question_moderate(w: World) -> tuple[Message, Request]:
    q = await w.question()
    return {"question": q["id"], "do": "answered"}, (
        "POST",
        f"/api/v1/questions/{q['id']}/answered",
        None,
    )


async def qa_approval(w: World, approval: Any = True) -> tuple[Message, Request]:
    body = {"approval": approval}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/questions/settings", body)


async def stage_show(w: World, poll_id: Any = None) -> tuple[Message, Request]:
    body = {"show": "poll", "id": poll_id, "reveal_results": True}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/stage", body)


async def stage_revoke(w: World) -> tuple[Message, Request]:
    return {}, ("POST", f"/api/v1/sessions/{w.sid}/stage/revoke", None)


async def minutes_plenary(w: World, plenary: Any = True) -> tuple[Message, Request]:
    body = {"plenary": plenary}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/minutes", body)


async def minutes_collect(w: World, text: Any = "Vi ses igen i vår") -> tuple[Message, Request]:
    room, board = await w.minutes(), await w.board()
    body = {"board_id": board["id"], "text": text}
    return {**body, "room_id": room}, ("POST", f"/api/v1/rooms/{room}/minutes/collect", body)


async def session_calls(w: World, plenary: Any = True) -> tuple[Message, Request]:
    body = {"plenary": plenary}
    return dict(body), ("POST", f"/api/v1/sessions/{w.sid}/calls", body)


def _with(build: Callable[..., Awaitable[tuple[Message, Request]]], value: Any) -> Build:
    async def wrong(w: World) -> tuple[Message, Request]:
        return await build(w, value)

    return wrong


CASES = [
    case("note.add", "participant", note_add, _with(note_add, 123), "text"),
    case("note.edit", "participant", note_edit, _with(note_edit, 123), "text"),
    # The API's DELETE also takes a moderator's (the socket's note.moderate "delete").
    case("note.delete", "participant", note_delete, role_checked=False),
    case("note.like", "participant", note_like),
    case("dot.give", "participant", dot_give, _with(dot_give, 123), "note_id"),
    case("question.ask", "participant", question_ask, _with(question_ask, 123), "text"),
    case("question.like", "participant", question_like),
    case("poll.vote", "participant", poll_vote, _with(poll_vote, [5]), "choices"),
    case("rooms.help", "participant", rooms_help),
    # The API's /members also takes a moderator's (the socket's rooms.move).
    case(
        "rooms.choose",
        "participant",
        rooms_choose,
        _with(rooms_choose, 123),
        "participant_id",
        role_checked=False,
    ),
    case("board.create", "moderator", board_create, _with(board_create, 123), "title"),
    case("board.show", "moderator", board_show),
    case("note.moderate", "moderator", note_hide, note_move_wrong, "column"),
    case("dots.open", "moderator", dots_open, _with(dots_open, "many"), "dots"),
    case("dots.close", "moderator", dots_close),
    case("poll.create", "moderator", poll_create, _with(poll_create, 123), "question"),
    case("poll.open", "moderator", poll_open),
    case("poll.close", "moderator", poll_close),
    case("poll.hide_answer", "moderator", poll_hide_answer, _with(poll_hide_answer, 5), "hidden"),
    case("poll.hide_word", "moderator", poll_hide_word, _with(poll_hide_word, 123), "word"),
    case("poll.duplicate", "moderator", poll_duplicate),
    case("poll.import", "moderator", poll_import, _with(poll_import, 123), "poll_ids"),
    case("rooms.open", "moderator", rooms_open, _with(rooms_open, "long"), "minutes"),
    case("rooms.close", "moderator", rooms_close),
    case("rooms.extend", "moderator", rooms_extend, _with(rooms_extend, "long"), "minutes"),
    case("rooms.broadcast", "moderator", rooms_broadcast, _with(rooms_broadcast, 123), "text"),
    # A participant may post to /rooms/{rid}/members too, to choose a room for themself.
    case("rooms.move", "moderator", rooms_move, _with(rooms_move, 123), "participant_id"),
    case("rooms.answer_help", "moderator", rooms_answer_help),
    case("question.moderate", "moderator", question_moderate),
    case("stage.show", "moderator", stage_show, _with(stage_show, 123), "id"),
    case("stage.revoke", "moderator", stage_revoke),
    case("minutes.plenary", "moderator", minutes_plenary, _with(minutes_plenary, 5), "plenary"),
    case("minutes.collect", "moderator", minutes_collect, _with(minutes_collect, 123), "text"),
    case("session.calls", "moderator", session_calls, _with(session_calls, 5), "plenary"),
    case("qa.approval", "moderator", qa_approval, _with(qa_approval, 5), "approval"),
]


# Socket messages with no API endpoint: a participant's name is set when they join.
SOCKET_ONLY = {"rename"}


def test_every_action_is_sent_both_ways() -> None:
    """A new action is added here too, or the socket and its endpoint may drift apart."""
    listed = {p.values[0].type for p in CASES}
    assert set(app.ACTIONS) - SOCKET_ONLY == listed


# -- sending ------------------------------------------------------------------------------------


def _token(w: World, role: str) -> str:
    return w.mod if role == "moderator" else str(w.anna["token"])


def _other(role: str) -> str:
    return "participant" if role == "moderator" else "moderator"


async def by_api(api: Api, token: str, request: Request) -> Answer:
    method, path, body = request
    r = await api.call(method, path, token, **({} if body is None else {"json": body}))
    if r.status_code < 300:
        return ("ok", None)
    error = r.json()["error"]
    return (str(error["code"]), str(error["message"]))


async def by_socket(s: Stream, type_: str, message: Message) -> Answer:
    await s.send({"type": type_, **message})
    frame = await s.until(lambda f: f["type"] in ("ack", "error"))
    if frame["type"] == "ack":
        assert frame["for"] == type_
        return ("ok", None)
    return (str(frame["error"]["code"]), str(frame["error"]["message"]))


async def both_ways(
    served: Served, w: World, c: Case, role: str, message: Message, request: Request
) -> tuple[Answer, Answer]:
    """The answer over the event stream, then through the API, sent as `role`."""
    token = _token(w, role)
    async with open_stream(served)(w.sid, token) as s:
        await s.until(lambda f: f["type"] == "snapshot")
        socket = await by_socket(s, c.type, message)
    return socket, await by_api(w.api, token, request)


# -- (a, b, d) the same refusals --------------------------------------------------------------


async def _differences(served: Served, w: World, c: Case) -> list[str]:
    """Each refusal the socket and the API must share, sent both ways: what differs."""
    found: list[str] = []

    def check(what: str, socket: Answer, through_api: Answer, code: str, names: str = "") -> None:
        if socket != through_api:
            found.append(f"{what}: socket {socket} != API {through_api}")
        elif through_api[0] != code:
            found.append(f"{what}: {through_api} both ways, not {code!r}")
        elif names and names not in str(through_api[1]):
            found.append(f"{what}: {through_api[1]!r} does not name {names!r}")

    # (a) one field of the wrong type, from someone who may send it
    if c.wrong is not None:
        message, request = await c.wrong(w)
        answers = await both_ways(served, w, c, c.role, message, request)
        check("a field of the wrong type", *answers, "invalid", c.field or "")
    message, request = await c.valid(w)
    # (b) from someone of the other role
    if c.role_checked:
        wrong_role = (message, request)
        if c.type == "rooms.move":  # a participant moving someone else, not choosing a room
            wrong_role = await rooms_move(w, w.erik["participant_id"])
        answers = await both_ways(served, w, c, _other(c.role), *wrong_role)
        check("the wrong role", *answers, "forbidden")
    # (d) once the session is closed
    await w.ok("POST", f"/api/v1/sessions/{w.sid}/close", w.mod)
    answers = await both_ways(served, w, c, c.role, message, request)
    check("a closed session", *answers, "session_closed")
    return found


@pytest.mark.parametrize("c", CASES)
async def test_an_action_is_refused_alike_both_ways(served: Served, api: Api, c: Case) -> None:
    """The same refusal over the socket and through the API of a field of the wrong type
    (`invalid`, naming the field), of the wrong role (`forbidden`) and of a closed session
    (`session_closed`); every difference is listed."""
    differences = await _differences(served, await make_world(api), c)
    assert not differences, "\n".join(differences)


# -- (c) one quota, whichever way it is spent ----------------------------------------------------

QUOTAS = [
    pytest.param(note_add, "note.add", quotas.NOTE, id="note.add"),
    pytest.param(question_ask, "question.ask", quotas.QUESTION, id="question.ask"),
    pytest.param(poll_vote, "poll.vote", quotas.VOTE, id="poll.vote"),
    pytest.param(note_like, "note.like", quotas.UPVOTE, id="note.like"),
]


def _amount(quota: quotas.Quota) -> tuple[int, float]:
    """A quota's allowance and its period in seconds ("20/minute": 20, 60.0)."""
    amount, per = quota.rate.split("/")
    return int(amount), {"second": 1.0, "minute": 60.0, "hour": 3600.0}[per]


async def _spend(
    send: Callable[[int], Awaitable[Answer]], start: int, most: int
) -> tuple[int, Answer]:
    """Sends until the first refusal (at most `most`): how many went through, and it."""
    for i in range(most):
        answer = await send(start + i)
        if answer[0] != "ok":
            return i, answer
    return most, ("ok", None)


async def _spend_both_ways(
    served: Served,
    w: World,
    served_api: Served,
    build: Build,
    type_: str,
    quota: quotas.Quota,
) -> None:
    """Half the quota through the API (of `served_api`), the rest over the socket (of
    `served`) until refused, then the API again: one bucket, so the total stays within the
    allowance (and what a leaky bucket frees meanwhile) and both ways refuse alike."""
    amount, period = _amount(quota)
    token = str(w.anna["token"])
    message, request = await build(w)
    started = time.monotonic()

    async with httpx.AsyncClient(base_url=served_api.base, timeout=30) as client:
        api = Api(served_api, client)

        async def via_api(i: int) -> Answer:
            return await by_api(api, token, _varied(request, i))

        half = amount // 2
        sent, refused = await _spend(via_api, 0, half)
        assert (sent, refused) == (half, ("ok", None)), f"refused before the quota: {refused}"
        async with open_stream(served)(w.sid, token) as s:
            await s.until(lambda f: f["type"] == "snapshot")

            async def via_socket(i: int) -> Answer:
                varied = _varied(("", "", message), i)[2]
                return await by_socket(s, type_, varied)

            on_socket, socket_refusal = await _spend(via_socket, half, 2 * amount)
        again, api_refusal = await _spend(via_api, half + on_socket, 3)
    freed = math.ceil((time.monotonic() - started) * amount / period) + 1
    total = half + on_socket + again
    assert socket_refusal[0] == "rate_limited", socket_refusal
    assert api_refusal == socket_refusal, f"API {api_refusal} != socket {socket_refusal}"
    assert amount <= total <= amount + freed, f"{total} went through of {amount}"


def _varied(request: Request, i: int) -> Request:
    """The i-th of a run of sends: a note or a question of its own text, a vote for the
    other option (a change of answer), an upvote and its taking back in turn."""
    method, path, body = request
    if isinstance(body, dict) and "text" in body:
        body = {**body, "text": f"{body['text']} {i}"}
    return method, path, body


@pytest.mark.parametrize(("build", "type_", "quota"), QUOTAS)
async def test_the_socket_and_the_api_spend_one_quota(
    served: Served, api: Api, build: Build, type_: str, quota: quotas.Quota
) -> None:
    w = await make_world(api)
    await _spend_both_ways(served, w, served, build, type_, quota)


@pytest.mark.redis
async def test_the_socket_and_the_api_spend_one_quota_in_redis_across_instances(
    served_factory: Callable[..., Served], redis_server: Any
) -> None:
    """Two instances on one store and one Redis: questions asked through the first one's
    API and over the second one's socket count against the one bucket in Redis."""
    first = served_factory(redis_server.url)
    second = served_factory(redis_server.url)
    async with httpx.AsyncClient(base_url=first.base, timeout=30) as client:
        w = await make_world(Api(first, client))
        await _spend_both_ways(second, w, first, question_ask, "question.ask", quotas.QUESTION)
