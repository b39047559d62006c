"""Splits in every report format: a poll's results and a board's upvotes split by a join
question, as the tables of HTML, Markdown and Word (`split_table`) and the rows of the CSV's
`splits` kind and the workbook's Splits sheet (`split_rows`).

Every split lists the same groups on every note and poll of a session, and a hidden group
(`rooms/polls/splits.py` says which are) is written as why, in the reader's words ("fewer
than 3", "hidden to protect a small group"), never as a count: every listed group has its
cells and rows, so no table or row tells who took part by being there or not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rooms.archive import Archive, BoardSplit, Note, Split
from rooms.archive_words import Translate, Words, unchanged, words_of
from rooms.polls.splits import Hidden

Row = tuple[str | int | float | datetime | None, ...]

# A row per group of a split and answer: a poll's (`source` "poll", `text` its question,
# `people` the group's voters, `count` theirs for `answer`) or a note's upvotes (`source`
# "note", `people` and `count` its upvoters in the group). A hidden group has the words.
SPLIT_HEADER = (
    "source",
    "room",
    "board",
    "text",
    "split_by",
    "group",
    "people",
    "answer",
    "count",
)


FEWER = "fewer than 3"
PROTECTS = "hidden to protect a small group"


def hidden_words(hidden: Hidden | None, t: Translate = unchanged) -> str:
    """Why a group shows no counts, in the reader's words (a group without a reason is small)."""
    return t(PROTECTS) if hidden == "protects" else t(FEWER)


def group_name(group: Any, t: Translate = unchanged) -> str:
    """A split's group as read: its answer, or "No answer" for those who gave none."""
    return str(t("No answer") if group.choice is None else group.choice)


def split_table(
    split: Split | BoardSplit, t: Translate = unchanged
) -> tuple[list[str], list[tuple[str, ...]]]:
    """A split as a table. A poll's: a row per group (its answer, its voters, each option's
    count). A board's: a row per upvoted note (its text, its upvotes, each group's). A hidden
    group shows why ("fewer than 3", "hidden to protect a small group"), never a count; a
    group a note's split lacks (never so from `upvote_splits`) shows as a small one."""
    w = words_of(t)
    if isinstance(split, BoardSplit):
        return _upvote_table(split, w)
    labels = list(dict.fromkeys(o.label for g in split.groups for o in g.options))
    header = [split.label, w("Voters"), *labels]
    rows: list[tuple[str, ...]] = []
    for group in split.groups:
        counts = {o.label: o.count for o in group.options}
        hidden = group.voters is None
        rows.append(
            (
                group_name(group, w),
                hidden_words(group.hidden, w) if hidden else w.number(group.voters),
                *(
                    "-" if hidden or counts.get(label) is None else w.number(counts[label])
                    for label in labels
                ),
            )
        )
    return header, rows


def _upvote_cells(
    split: BoardSplit, t: Translate
) -> tuple[list[str | None], list[tuple[Note, list[str | int]]]]:
    """The groups (columns), in the split's order, and per note a cell per group: its
    upvotes, or why it is hidden. Every note lists the same groups; one that lacks a group
    (never so from `upvote_splits`) shows it as a small one, never as absent."""
    choices = list(dict.fromkeys(g.choice for n in split.notes for g in split.groups_of(n)))
    choices.sort(key=lambda c: c is None)
    out = []
    for note in split.notes:
        groups = {g.choice: g for g in split.groups_of(note)}
        cells: list[str | int] = []
        for choice in choices:
            g = groups.get(choice)
            if g is None or g.upvotes is None:
                cells.append(hidden_words(g.hidden if g else None, t))
            else:
                cells.append(g.upvotes)
        out.append((note, cells))
    return choices, out


def _upvote_table(split: BoardSplit, w: Words) -> tuple[list[str], list[tuple[str, ...]]]:
    choices, notes = _upvote_cells(split, w)
    header = [w("Note"), w("Upvotes"), *(w("No answer") if c is None else c for c in choices)]
    rows = [
        (
            note.text,
            w.number(note.upvotes),
            *(c if isinstance(c, str) else w.number(c) for c in cells),
        )
        for note, cells in notes
    ]
    return header, rows


def split_rows(archive: Archive, t: Translate = unchanged) -> list[Row]:
    """Every split of the polls, then of the notes' upvotes, a row per listed group (every
    note's and poll's of a session alike) and answer; a hidden group says why in words where
    its figures would be."""
    rows: list[Row] = []
    for poll in archive.polls:
        room = archive.room_name(poll.room_id) or ""
        for split in poll.splits:
            for group in split.groups:
                head: Row = ("poll", room, "", poll.question, split.label, group_name(group, t))
                why = hidden_words(group.hidden, t) if group.voters is None else None
                people = group.voters if why is None else why
                answers = [(o.label, o.count if why is None else why) for o in group.options]
                rows += [(*head, people, label, n) for label, n in answers or [("", why)]]
    for board in archive.boards:
        room = archive.room_name(board.room_id) or ""
        for by in board.splits:
            choices, notes = _upvote_cells(by, t)
            names = [str(t("No answer")) if c is None else c for c in choices]
            for note, cells in notes:
                for name, n in zip(names, cells, strict=True):
                    rows.append(("note", room, board.title, note.text, by.label, name, n, "", n))
    return rows
