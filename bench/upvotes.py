"""The upvote storm (`--scenario upvotes`): N participants upvote one note on one board.

The session gets one board with one column; the first participant writes a note; then the
storm sends `POST /api/v1/notes/{nid}/upvote` for every participant, spread over the window
as the vote storm's votes are. A screen's progress is the note's total: `upvotes` in the
`note.upvoted` events (keyed per note, so a burst crosses as one event with the total) and
in the snapshot's boards. Latency, completeness and exactness are defined as for votes: the
k-th accepted upvote reached every screen when every socket had seen a total ≥ k. The
baseline counts the same requests as votes on one option and broadcasts its total the same
way (its frames are the same size class), so the pair is measured alike."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from bench.wire import Http, Progress

if TYPE_CHECKING:
    from bench.targets import SamlaServer, Vote

UPVOTES = re.compile(rb'"upvotes":\s*(\d+)')
NOTE_ID = "note"  # the one "option" an upvote chooses, for the per-option check


def find_upvotes(value: Any, note_id: str) -> int | None:
    """The note's upvotes anywhere inside a snapshot."""
    if isinstance(value, dict):
        if value.get("id") == note_id and isinstance(value.get("upvotes"), int):
            return int(value["upvotes"])
        for item in value.values():
            found = find_upvotes(item, note_id)
            if found is not None:
                return found
    elif isinstance(value, list):
        for item in value:
            found = find_upvotes(item, note_id)
            if found is not None:
                return found
    return None


def upvotes_progress(note_id: str) -> Progress:
    marker = b'"note.upvoted"'
    nid = note_id.encode()

    def progress(payload: bytes, is_snapshot: bool) -> int | None:
        if is_snapshot:
            found = find_upvotes(json.loads(payload), note_id)
            return found if found is not None else 0
        if marker in payload and nid in payload:
            match = UPVOTES.search(payload)
            return int(match.group(1)) if match else None
        return None

    return progress


async def prepare(server: SamlaServer, http: Http, moderator: str) -> None:
    """One board, one note by the first participant; every participant then upvotes it."""
    sid = server.session["id"]
    board = await http.json(
        "POST",
        f"/api/v1/sessions/{sid}/boards",
        {"title": "Idéer", "columns": ["Förslag"]},
        moderator,
    )
    note = await http.json(
        "POST",
        f"/api/v1/boards/{board['id']}/notes",
        {"text": "Fler pauser", "column": board["columns"][0]["id"]},
        server.tokens[0],
    )
    server.board_id = board["id"]
    server.note_id = note["id"]
    server.option_ids = [NOTE_ID]
    server.progress = upvotes_progress(note["id"])


def vote(server: SamlaServer, i: int) -> Vote:
    from bench.targets import Vote

    return Vote("POST", f"/api/v1/notes/{server.note_id}/upvote", None, server.tokens[i])


async def counted(server: SamlaServer, http: Http) -> tuple[int, dict[str, int]]:
    moderator = server.session["moderator_token"]
    board = await http.json("GET", f"/api/v1/boards/{server.board_id}", None, moderator)
    total = next(int(n["upvotes"]) for n in board["notes"] if n["id"] == server.note_id)
    return total, {NOTE_ID: total}
