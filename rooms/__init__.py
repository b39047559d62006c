"""Samla's domain: sessions, participants, breakout rooms, polls, boards, Q&A and the archive.

Importing the package registers every feature's tables on the shared metadata."""

from rooms import (
    accounts,
    archive,
    archive_parts,
    boards,
    breakout,
    models,
    polls,
    questions,
    sessions,
)

__all__ = [
    "accounts",
    "archive",
    "archive_parts",
    "boards",
    "breakout",
    "models",
    "polls",
    "questions",
    "sessions",
]
