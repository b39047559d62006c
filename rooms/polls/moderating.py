"""Moderating answers: hiding an open answer, or a word from a word cloud."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from rooms.errors import invalid, not_found
from rooms.models import Event, Outcome
from rooms.polls.answering import normalise_word
from rooms.polls.reading import changeable
from rooms.polls.tables import HIDDEN_WORDS_MAX, Ballot
from rooms.polls.values import results_event, told


async def hide_answer(
    db: AsyncSession, poll_id: Any, answer_id: Any, hidden: Any = True
) -> Outcome[dict[str, Any]]:
    """Hides an open answer from participants and the big screen (or shows it again)."""
    poll = await changeable(db, poll_id)
    if poll.kind != "open":
        raise invalid("Only open answers can be hidden one by one.")
    if not isinstance(hidden, bool):
        raise invalid("hidden must be true or false.")
    ballot = await db.get(Ballot, answer_id) if isinstance(answer_id, str) else None
    if ballot is None or ballot.poll_id != poll.id:
        raise not_found("answer in this poll")
    ballot.hidden = hidden
    db.add(ballot)
    await db.flush()  # its row lock now, before the version bump's (rooms/locks.py)
    return Outcome(
        poll.session_id,
        {"id": ballot.id, "text": ballot.text, "hidden": hidden},
        (
            Event("poll.hidden", {"poll_id": poll.id}, room_id=told(poll)),
            results_event(poll),
        ),
    )


async def hide_word(
    db: AsyncSession, poll_id: Any, word: Any, hidden: Any = True
) -> Outcome[list[str]]:
    """Adds a word to (or takes it off) the poll's list of words the cloud never shows."""
    poll = await changeable(db, poll_id)
    if poll.kind != "wordcloud":
        raise invalid("Only a word cloud has hidden words.")
    if not isinstance(hidden, bool):
        raise invalid("hidden must be true or false.")
    normal = normalise_word(word)
    words = [w for w in poll.hidden_words if w != normal]
    if hidden:
        words.append(normal)
    if len(words) > HIDDEN_WORDS_MAX:
        raise invalid(f"At most {HIDDEN_WORDS_MAX} words can be hidden.")
    poll.hidden_words = sorted(words)
    db.add(poll)
    await db.flush()  # its row lock now, before the version bump's (rooms/locks.py)
    return Outcome(
        poll.session_id,
        poll.hidden_words,
        (
            Event("poll.hidden", {"poll_id": poll.id}, room_id=told(poll)),
            results_event(poll),
        ),
    )
