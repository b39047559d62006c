"""The poll tables and the limits on what they hold."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlalchemy import JSON, Column, ForeignKey, String, UniqueConstraint
from sqlmodel import Field, SQLModel

from rooms.models import new_id, utcnow

Kind = Literal["single", "multiple", "scale", "wordcloud", "open", "ranking"]
KINDS: tuple[Kind, ...] = ("single", "multiple", "scale", "wordcloud", "open", "ranking")
WITH_OPTIONS: frozenset[str] = frozenset({"single", "multiple", "ranking"})
SHOW_RESULTS = ("live", "closed", "never")

QUESTION_MAX = 300
OPTION_MAX = 120
OPTIONS_MAX = 30
WORD_MAX = 40
WORDS_MAX = 3
ANSWER_MAX = 500
ROOM_ID_MAX = 40
# A scale's values are shown one bar each: wider than 0-100 would be unreadable anyway.
SCALE_LIMIT = 100
SCALE_VALUES_MAX = 21
HIDDEN_WORDS_MAX = 200
# Long answer and word lists are cut in each live update (screens show fewer still);
# GET .../results and the archive keep them all.
SUMMARY_ITEMS = 100


# -- tables ---------------------------------------------------------------------------------
# "Who has voted" (PollVoter) is kept apart from "what was voted" (Ballot and its marks).
# A ballot names its voter only while the poll is open, so that an answer can be changed
# and shown back to the person; closing the poll clears that link. No table keeps a
# timestamp or (on SQLite) a rowid, so insertion order cannot pair voters with ballots.


class Poll(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    session_id: str = Field(foreign_key="session.id", ondelete="CASCADE", index=True)
    # The breakout room the poll belongs to (None: the plenary); a plain column, because
    # the rooms feature owns its table.
    room_id: str | None = Field(default=None, index=True, max_length=ROOM_ID_MAX)
    question: str = Field(max_length=QUESTION_MAX)
    kind: str = Field(max_length=12)
    status: str = Field(default="draft", max_length=8)  # draft, open, closed
    allow_change: bool = False
    max_choices: int | None = None
    scale_min: int | None = None
    scale_max: int | None = None
    min_label: str | None = Field(default=None, max_length=OPTION_MAX)
    max_label: str | None = Field(default=None, max_length=OPTION_MAX)
    show_results: str = Field(default="live", max_length=8)
    hidden_words: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    created_at: datetime = Field(default_factory=utcnow)
    opened_at: datetime | None = None
    closed_at: datetime | None = None


class PollOption(SQLModel, table=True):
    __tablename__ = "poll_option"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    poll_id: str = Field(foreign_key="poll.id", ondelete="CASCADE", index=True)
    position: int
    label: str = Field(max_length=OPTION_MAX)


class PollVoter(SQLModel, table=True):
    """That a participant has answered a poll, and nothing about what."""

    __tablename__ = "poll_voter"
    __table_args__ = {"sqlite_with_rowid": False}

    poll_id: str = Field(
        sa_column=Column(String(16), ForeignKey("poll.id", ondelete="CASCADE"), primary_key=True)
    )
    participant_id: str = Field(
        sa_column=Column(
            String(16), ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
        )
    )


class Ballot(SQLModel, table=True):
    """What one participant answered: a value, a text, or marks (choices, words)."""

    __table_args__ = (
        # NULLs are distinct: closed polls' unlinked ballots never collide.
        UniqueConstraint("poll_id", "voter_id", name="uq_ballot_poll_voter"),
        {"sqlite_with_rowid": False},
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=16)
    poll_id: str = Field(foreign_key="poll.id", ondelete="CASCADE", index=True)
    voter_id: str | None = Field(
        default=None, foreign_key="participant.id", ondelete="SET NULL", max_length=16
    )
    value: int | None = None
    text: str | None = Field(default=None, max_length=ANSWER_MAX)
    hidden: bool = False
    # The voter's answers to the session's questions when they voted ({key: choice}): kept
    # with the ballot, never the voter, so results split by them survive the unlinking.
    attributes: dict[str, str] | None = Field(default=None, sa_column=Column(JSON))


class BallotChoice(SQLModel, table=True):
    """One chosen option of a ballot; for ranking, with its place (0 is best)."""

    __tablename__ = "ballot_choice"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: str = Field(
        sa_column=Column(String(16), ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    )
    option_id: str = Field(
        sa_column=Column(
            String(16),
            ForeignKey("poll_option.id", ondelete="CASCADE"),
            primary_key=True,
            index=True,
        )
    )
    rank: int = 0


class BallotWord(SQLModel, table=True):
    __tablename__ = "ballot_word"
    __table_args__ = {"sqlite_with_rowid": False}

    ballot_id: str = Field(
        sa_column=Column(String(16), ForeignKey("ballot.id", ondelete="CASCADE"), primary_key=True)
    )
    word: str = Field(sa_column=Column(String(WORD_MAX), primary_key=True, index=True))
