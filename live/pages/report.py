"""The archive as a printable HTML report: one self-contained page, no scripts, charts in SVG."""

from __future__ import annotations

from live.templating import Templates
from rooms.archive import Archive
from rooms.archive_formats import (
    KIND_LABELS,
    card_value,
    link_of,
    link_what,
    links_by_kind,
    percent,
    poll_headline,
    result_rows,
    room_label,
    safe_link,
    scale_text,
    split_table,
)


def render_report(templates: Templates, archive: Archive, lang: str) -> str:
    """The report, in the reader's language; user text is autoescaped like every page."""

    t = templates.words(lang)

    return templates.render(
        "archive/report.html",
        lang,
        archive=archive,
        sections=archive.sections(),
        result_rows=result_rows,
        headline=lambda poll: poll_headline(poll, t),
        percent=percent,
        scale_text=lambda poll: scale_text(poll, t),
        room_label=lambda room_id: room_label(archive, room_id, t),
        kind_label=lambda kind: t(KIND_LABELS[kind]),
        split_table=lambda split: split_table(split, t),
        card_value=lambda field: card_value(field, t),
        link_groups=links_by_kind(archive.notes),
        kind_name=lambda kind: t(kind) if kind else t("Other links"),
        link_of=link_of,
        link_what=link_what,
        safe_link=safe_link,
    )
