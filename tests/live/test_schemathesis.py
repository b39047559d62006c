"""Schemathesis against the served OpenAPI document: no operation answers a server error.

Every operation is called with real ids (a session, poll, board, note, question, room made
first) and a token of the kind it asks for, with data that fits the document and data that
does not; whatever comes, the answer is a 2xx or a 4xx in the error shape, never a 5xx."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode

from tests.conftest import Api, Served

# Examples per operation and mode: about 50 operations, both modes, within ~90 s on 2 cores.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 12}
# Operations that end what the others need (the session, the organiser's token) run last.
LAST = (
    "POST /api/v1/sessions/{sid}/close",
    "DELETE /api/v1/sessions/{sid}",
    "DELETE /api/v1/events/{eid}",
    "DELETE /api/v1/auth/token",
)


async def _world(served: Served) -> dict[str, Any]:
    """One of everything, and a token of each kind."""
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        organiser = await api.organiser_token()
        session = await api.make_session(
            attributes=[{"key": "sector", "label": "Sector", "choices": ["civil", "public"]}]
        )
        sid, moderator = session["id"], session["moderator_token"]
        participant = await api.join(session, "Anna", {"sector": "civil"})
        await api.join(session, "Bo", {"sector": "public"})
        me = participant["token"]

        async def post(path: str, token: str, body: dict[str, Any] | None = None) -> Any:
            r = await api.call("POST", path, token, json=body or {})
            assert r.status_code in (200, 201), (path, r.text)
            return r.json()

        poll = await post(
            f"/api/v1/sessions/{sid}/polls", moderator, {"question": "Varför?", "kind": "open"}
        )
        await post(f"/api/v1/polls/{poll['id']}/open", moderator)
        await post(f"/api/v1/polls/{poll['id']}/votes", me, {"text": "För att."})
        results = (await api.call("GET", f"/api/v1/polls/{poll['id']}/results", moderator)).json()
        board = await post(
            f"/api/v1/sessions/{sid}/boards", moderator, {"title": "Idéer", "columns": ["Bra"]}
        )
        note = await post(
            f"/api/v1/boards/{board['id']}/notes",
            me,
            {"text": "Fika", "column": board["columns"][0]["id"]},
        )
        dot_vote = await post(
            f"/api/v1/boards/{board['id']}/dot-votes", moderator, {"scope": "all"}
        )
        question = await post(f"/api/v1/sessions/{sid}/questions", me, {"text": "Hur?"})
        rooms = await post(
            f"/api/v1/sessions/{sid}/rooms", moderator, {"count": 2, "assignment": "random"}
        )
        event = await post(
            "/api/v1/events",
            organiser,
            {
                "title": "Forum",
                "attributes": [{"key": "sector", "choices": ["civil", "public"]}],
                "registration": {"open": True},
            },
        )
        registration = await post(
            f"/api/v1/events/{event['id']}/registrations",
            "",
            {
                "name": "Anna",
                "email": "anna@example.org",
                "attributes": {"sector": "civil"},
                "consent": True,
            },
        )
        return {
            "tokens": {"organiser": organiser, "moderator": moderator, "participant": me},
            "ids": {
                "sid": sid,
                "pid": poll["id"],
                "aid": results["answers"][0]["id"],
                "bid": board["id"],
                "nid": note["id"],
                "vid": dot_vote["id"],
                "qid": question["id"],
                "rid": rooms["rooms"][0]["id"],
                "eid": event["id"],
                "regid": registration["id"],
            },
        }


def _token_for(operation: Any, tokens: dict[str, str]) -> dict[str, str]:
    """The token of the kind the operation's description names first ("Who may call it")."""
    who = (operation.definition.raw.get("description") or "").removeprefix("Who may call it: ")
    if who.startswith("anyone"):
        return {}
    kind = next((k for k in ("organiser", "participant") if who.startswith(k)), "moderator")
    return {"Authorization": f"Bearer {tokens[kind]}"}


def _run(operation: Any, mode: GenerationMode, world: dict[str, Any], base: str) -> None:
    wanted = operation.path_parameters
    ids = {p.name: world["ids"][p.name] for p in wanted} if wanted else None
    strategy = operation.as_strategy(
        generation_mode=mode, path_parameters=ids, headers=_token_for(operation, world["tokens"])
    )

    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def call(case: Any) -> None:
        case.call_and_validate(base_url=base, checks=[not_a_server_error], timeout=30)

    call()


def _order(label: str) -> tuple[int, str]:
    return (LAST.index(label) + 1 if label in LAST else 0, label)


def test_no_api_operation_answers_a_server_error(served_factory: Callable[..., Served]) -> None:
    served = served_factory()
    world = asyncio.run(_world(served))
    schema = schemathesis.openapi.from_url(f"{served.base}/api/v1/openapi.json")
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda op: _order(op.label)
    )
    started = time.monotonic()
    failed: list[str] = []
    for operation in operations:
        # Without a body there is nothing to get wrong but the ids, which are fixed here.
        modes = list(EXAMPLES) if len(operation.body) else [GenerationMode.POSITIVE]
        for mode in modes:
            try:
                _run(operation, mode, world, served.base)
            except (Exception, BaseExceptionGroup) as exc:
                failed.append(f"{operation.label} ({mode}): {str(exc)[:1500]}")
    print(f"schemathesis: {len(operations)} operations in {time.monotonic() - started:.1f} s")
    assert not failed, "\n\n".join(failed)


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
