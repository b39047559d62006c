"""The archive's office files as people of each language open them: A4, the document's
language and properties, the language's words and decimal sign, moments in TIME_ZONE, widths
that fit; splits and links in every report; LibreOffice converts them to A4 PDFs."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Mm
from openpyxl import load_workbook

from rooms import archive_formats as formats
from rooms import archive_office as office
from rooms.archive import Archive, CardField, GroupCount, Note, Split, SplitGroup
from rooms.archive_words import Words
from tests.rooms.test_archive import a_note, sample

LANGS = [pytest.param("en", id="en"), pytest.param("sv", id="sv")]
TAGS = {"en": "en-GB", "sv": "sv-SE"}
ORGANISERS = "anna@example.se, bo@example.se"
LINK = "https://example.se/iop?x=1&y=2"


@lru_cache(maxsize=2)
def words(lang: str) -> Words:
    from live.templating import Templates

    return Templates(time_zone="Europe/Stockholm").words(lang)


def rich() -> Archive:
    """The sample forum, with a poll split by sector and cards carrying links and kinds."""
    data = sample()
    split = Split(
        "sektor",
        "Sektor",
        (
            SplitGroup("Civilsamhälle", 3, (GroupCount("Mer", 1), GroupCount("Bättre", 2))),
            SplitGroup("Offentlig sektor", None, (GroupCount("Mer", None),)),
            SplitGroup(None, None, ()),
        ),
    )
    polls = (replace(data.polls[0], splits=(split,)), *data.polls[1:])

    def card(nid: str, what: str, kind: str | None, link: str) -> Note:
        fields = [CardField("what", what), CardField("link", link)]
        if kind:
            fields.append(CardField("kind", kind))
        return replace(a_note(nid, what, 2, "Dana"), card=tuple(fields))

    board = data.boards[0]
    cards = (
        card("k1", "Idéburet offentligt partnerskap", "Lästips", LINK),
        card("k2", "Forum för samverkan", "Plattformar och nätverk", "http://forum.example/"),
        card("k3", "Utan sort", None, "https://utan.example/"),
        card("k4", "Farlig", "Lästips", "javascript:alert(1)"),
    )
    column = replace(board.columns[0], notes=(*board.columns[0].notes, *cards))
    boards = (replace(board, columns=(column, *board.columns[1:])), *data.boards[1:])
    return replace(data, polls=polls, boards=boards)


def docx_of(lang: str, data: Archive | None = None) -> bytes:
    return office.docx_bytes(data or rich(), words(lang), author=ORGANISERS)


def docx_text(doc: object) -> str:
    paragraphs = [p.text for p in doc.paragraphs]  # type: ignore[attr-defined]
    cells = [c.text for t in doc.tables for r in t.rows for c in r.cells]  # type: ignore[attr-defined]
    return "\n".join(paragraphs + cells)


# -- Word ------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_docx_is_a4_in_its_language_with_the_events_properties(lang: str) -> None:
    doc = Document(io.BytesIO(docx_of(lang)))
    for section in doc.sections:
        # Stored in twentieths of a point: A4 to a fraction of a millimetre.
        assert abs(section.page_width - Mm(210)) < Mm(0.5)
        assert abs(section.page_height - Mm(297)) < Mm(0.5)
        assert abs(section.left_margin - Mm(25)) < Mm(0.5)
        assert section.left_margin == section.right_margin
    defaults = doc.styles.element.find(qn("w:docDefaults"))
    lang_of_runs = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr")).find(qn("w:lang"))
    assert lang_of_runs.get(qn("w:val")) == TAGS[lang]
    assert {e.get(qn("w:val")) for e in doc.styles.element.iter(qn("w:lang"))} == {TAGS[lang]}
    props = doc.core_properties
    assert props.title == "Samverkansforum 2026" and props.author == ORGANISERS
    assert props.language == TAGS[lang] and props.last_modified_by == ORGANISERS
    made = datetime(2026, 11, 23, 12, 30)
    assert props.created is not None and props.created.replace(tzinfo=None) == made
    assert props.modified is not None and props.modified.replace(tzinfo=None) == made
    assert "python-docx" not in f"{props.comments}{props.subject}{props.keywords}"


def test_swedish_docx_has_no_english_words_and_swedish_numbers_and_times() -> None:
    text = docx_text(Document(io.BytesIO(docx_of("sv"))))
    for english in (
        r"\bupvotes\b",
        r"\bvoters\b",
        r"\bBoard\b",
        r"\bPoll\b",
        r"\bMean\b",
        r"\bLinks?\b",
        r"\bKind\b",
        r"\bfewer\b",
        r"\bSplit\b",
        r"\bNo answer\b",
        r"\bfrom\b",
        r"\d\.\d",  # a decimal point
        r"2026-11-23T",  # a moment as stored
    ):
        assert re.search(english, text) is None, english
    assert "Medelvärde: 3,5 (Dåligt - Bra)" in text
    assert "Skapad: 23 nov. 2026 10:00" in text  # 09:00 UTC in Stockholm


def test_docx_tables_have_fixed_widths_that_never_break_a_word() -> None:
    doc = Document(io.BytesIO(docx_of("sv")))
    side = next(t for t in doc.tables if t.rows[0].cells[0].text == "Fråga" and len(t.columns) == 5)
    assert side.autofit is False  # a fixed layout: Word and LibreOffice keep the widths
    widths = [c.width for c in side.columns]
    assert abs(sum(widths) - Mm(160)) < Mm(1)  # the text width of A4 with 25 mm margins
    for i, width in enumerate(widths):
        cells = [row.cells[i] for row in side.rows]
        assert {c.width for c in cells} == {width}
        longest = max(len(word) for c in cells for word in c.text.split())
        assert width >= Mm(office.CHAR_MM * longest), (i, longest)
    # The voters' column is narrow, yet holds its header's word whole.
    assert widths[3] < widths[0] and widths[3] >= Mm(office.CHAR_MM * len("Svarande"))


def test_column_widths_give_the_rest_to_the_columns_with_more_to_say() -> None:
    widths = office.column_widths_mm(["A", "B"], [("kort", "en mycket längre text " * 5)])
    assert abs(sum(widths) - office.TEXT_MM) < 0.01 and widths[1] > 4 * widths[0]


# -- Excel -------------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_xlsx_has_its_languages_headers_dates_widths_and_properties(lang: str) -> None:
    data = rich()
    book = load_workbook(io.BytesIO(office.xlsx_bytes(data, words(lang), author=ORGANISERS)))
    names = {
        "en": ["Session", "Notes", "Polls", "Questions", "Splits", "Minutes"],
        "sv": [
            "Programpunkt",
            "Lappar",
            "Frågor",
            "Frågor till panelen",
            "Uppdelning",
            "Minnesanteckningar",
        ],
    }[lang]
    assert book.sheetnames == names
    about, notes, polls, questions = (book[n] for n in names[:4])
    facts = {row[0].value: row[1] for row in about.iter_rows()}
    created = facts["Created" if lang == "en" else "Skapad"]
    # A date cell, in Stockholm time (stored 09:00 UTC), with a date format.
    assert created.is_date and created.value == datetime(2026, 11, 23, 10, 0)
    assert created.number_format == office.XLSX_WHEN
    header = [c.value for c in notes[1]]
    if lang == "en":
        assert header[:4] == ["board", "room", "column", "text"]
    else:
        assert header[:4] == ["Tavla", "Grupprum", "Kolumn", "Text"]
        assert [c.value for c in questions[1]] == ["Fråga", "Skriven av", "Gillningar", "Besvarad"]
        assert "Medelvärde" in [c.value for c in polls[1]]
    for sheet in (about, notes, polls, questions):
        for column in sheet.iter_cols(min_row=1, max_row=1):
            width = sheet.column_dimensions[column[0].column_letter].width
            assert office.XLSX_WIDTH_MIN <= width <= office.XLSX_WIDTH_MAX
            if column[0].value is not None and sheet is not about:
                assert width >= len(str(column[0].value)), column[0].value
        assert int(sheet.page_setup.paperSize) == int(sheet.PAPERSIZE_A4)
    text_width = notes.column_dimensions["D"].width
    assert text_width >= len("En väg in för föreningar")  # the longest note fits
    props = book.properties
    assert props.title == "Samverkansforum 2026" and props.creator == ORGANISERS
    assert props.language == TAGS[lang]


# -- CSV ---------------------------------------------------------------------------------------


def rows_of(data: bytes, delimiter: str) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))


def number(text: str) -> float | None:
    return None if text == "" else float(text.replace(",", "."))


def test_csv_is_comma_separated_in_english_and_semicolon_separated_in_swedish() -> None:
    data = rich()
    english = formats.csv_bytes(data, "polls", words("en")).decode("utf-8-sig")
    swedish = formats.csv_bytes(data, "polls", words("sv")).decode("utf-8-sig")
    assert english.splitlines()[0] == ",".join(formats.POLL_HEADER)
    assert swedish.splitlines()[0].split(";")[:5] == [
        "Fråga",
        "Grupprum",
        "Typ",
        "Status",
        "Svarande",
    ]
    assert "," not in swedish.splitlines()[0]
    scale_en = [r for r in rows_of(english.encode("utf-8-sig"), ",") if r["kind"] == "scale"]
    assert {r["mean"] for r in scale_en} == {"3.5"}


def test_a_swedish_csv_read_with_semicolons_gives_the_jsons_figures() -> None:
    data = rich()
    sv = words("sv")
    loaded = json.loads(formats.json_bytes(data))
    polls = rows_of(formats.csv_bytes(data, "polls", sv), ";")
    assert {r["Medelvärde"] for r in polls if r["Typ"] == "scale"} == {"3,5"}
    from_csv = {
        (r["Fråga"], r["Svar"]): (number(r["Antal"]), number(r["Poäng"]), number(r["Medelvärde"]))
        for r in polls
    }
    for poll in loaded["polls"]:
        for option in poll["options"]:
            count, score, mean = from_csv[(poll["question"], option["label"])]
            assert (count, score, mean) == (option["count"], option["score"], poll["mean"])
        for word in poll["words"]:
            assert from_csv[(poll["question"], word["word"])][0] == word["count"]
        voters = {number(r["Svarande"]) for r in polls if r["Fråga"] == poll["question"]}
        assert voters == {poll["voters"]}
    notes = rows_of(formats.csv_bytes(data, "notes", sv), ";")
    json_notes = [n for b in loaded["boards"] for c in b["columns"] for n in c["notes"]]
    assert sorted(int(r["Gillningar"]) for r in notes) == sorted(n["upvotes"] for n in json_notes)
    assert {r["Länk"] for r in notes if r["Länk"]} >= {LINK}
    questions = rows_of(formats.csv_bytes(data, "questions", sv), ";")
    assert [int(r["Gillningar"]) for r in questions] == [q["upvotes"] for q in loaded["questions"]]


# -- splits and links ------------------------------------------------------------------------


def test_a_split_shows_fewer_than_3_for_a_small_group_in_markdown_and_word() -> None:
    data = rich()
    for lang, fewer, none in (
        ("en", "fewer than 3", "No answer"),
        ("sv", "färre än 3", "Inget svar"),
    ):
        text = formats.markdown(data, words(lang))
        assert "| Civilsamhälle | 3 | 1 | 2 |" in text
        assert f"| Offentlig sektor | {fewer} | - | - |" in text
        assert f"| {none} | {fewer} |" in text
        rows = [
            [c.text for c in r.cells]
            for t in Document(io.BytesIO(docx_of(lang))).tables
            for r in t.rows
        ]
        assert ["Offentlig sektor", fewer, "-", "-"] in rows
        assert ["Civilsamhälle", "3", "1", "2"] in rows


def test_links_are_listed_by_kind_as_text_in_markdown_and_word() -> None:
    data = rich()
    text = formats.markdown(data, words("sv"))
    links = text[text.index("## Länklista") : text.index("## Frågor till panelen")]
    assert links.index("### Lästips") < links.index("### Plattformar och nätverk")
    assert links.index("### Plattformar och nätverk") < links.index("### Övriga länkar")
    assert f"- Idéburet offentligt partnerskap: {LINK} (Dana)" in links
    assert "- Utan sort: https://utan.example/ (Dana)" in links
    assert "](" not in links  # text, never a Markdown link
    doc = Document(io.BytesIO(docx_of("en")))
    headings = [
        p.text for p in doc.paragraphs if p.style is not None and p.style.name.startswith("Heading")
    ]
    assert "Links" in headings and "Other links" in headings
    nameless = replace(
        data,
        names=False,
        boards=tuple(
            replace(
                b,
                columns=tuple(
                    replace(c, notes=tuple(replace(n, author=None) for n in c.notes))
                    for c in b.columns
                ),
            )
            for b in data.boards
        ),
    )
    assert "(Dana)" not in formats.markdown(nameless, words("en"))


def test_a_report_without_links_has_no_link_list() -> None:
    assert "Links" not in formats.markdown(sample(), words("en"))
    assert formats.links_by_kind(sample().notes) == []


# -- LibreOffice -------------------------------------------------------------------------------

A4_POINTS = (595, 842)
# A page of the PDF (not the page tree, whose box LibreOffice makes the union of its pages').
PDF_OBJECT = re.compile(rb"\d+ 0 obj(.*?)endobj", re.DOTALL)
PAGE = re.compile(rb"/Type\s*/Page(?!s)")
MEDIA_BOX = re.compile(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]")


@pytest.mark.skipif(
    shutil.which("soffice") is None,
    reason="LibreOffice is not installed (soffice): apt-get install libreoffice-writer-nogui "
    "libreoffice-calc-nogui",
)
def test_libreoffice_converts_the_docx_and_the_xlsx_to_a4_pdfs(tmp_path: Path) -> None:
    data = rich()
    sv = words("sv")
    (tmp_path / "report.docx").write_bytes(office.docx_bytes(data, sv, author=ORGANISERS))
    (tmp_path / "report-data.xlsx").write_bytes(office.xlsx_bytes(data, sv, author=ORGANISERS))
    # One LibreOffice for both files, with a profile of its own (another may be running).
    done = subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{tmp_path / 'profile'}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(tmp_path / "pdf"),
            str(tmp_path / "report.docx"),
            str(tmp_path / "report-data.xlsx"),
        ],
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    for name in ("report", "report-data"):
        pdf = (tmp_path / "pdf" / f"{name}.pdf").read_bytes()
        boxes = {
            tuple(sorted(round(float(b) - float(a)) for a, b in ((m[0], m[2]), (m[1], m[3]))))
            for page in PDF_OBJECT.findall(pdf)
            if PAGE.search(page)
            for m in MEDIA_BOX.findall(page)
        }
        assert boxes, f"{name}.pdf has no page"
        for box in boxes:  # A4 whichever way up: 595 x 842 points, give or take one
            assert all(abs(x - y) <= 1 for x, y in zip(box, A4_POINTS, strict=True)), (name, box)
