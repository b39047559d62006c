"""The session archive's office files from the outside: the browser's language picks the
files' language, and their properties name the organisers."""

from __future__ import annotations

import csv
import io

from docx import Document
from openpyxl import load_workbook

from tests.conftest import ORGANISER_EMAIL, Api
from tests.live.test_events_api import make_event, second_organiser

SV = {"Accept-Language": "sv-SE,sv;q=0.9"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


async def download(api: Api, sid: str, language: dict[str, str], **params: str) -> bytes:
    token = await api.organiser_token()
    query = "&".join(f"{k}={v}" for k, v in params.items())
    r = await api.client.get(
        f"/api/v1/sessions/{sid}/archive?{query}",
        headers={"Authorization": f"Bearer {token}", **language},
    )
    assert r.status_code == 200, r.text
    return r.content


async def test_a_sessions_files_speak_the_browsers_language_and_name_its_organiser(
    api: Api,
) -> None:
    sid = (await api.make_session("Samverkan i praktiken"))["id"]
    for language, tag, sheet, delimiter in (
        (SV, "sv-SE", "Lappar", ";"),
        (EN, "en-GB", "Notes", ","),
    ):
        doc = Document(io.BytesIO(await download(api, sid, language, format="docx")))
        props = doc.core_properties
        assert (props.title, props.author, props.language) == (
            "Samverkan i praktiken",
            ORGANISER_EMAIL,
            tag,
        )
        book = load_workbook(io.BytesIO(await download(api, sid, language, format="xlsx")))
        assert sheet in book.sheetnames and book.properties.creator == ORGANISER_EMAIL
        text = (await download(api, sid, language, format="csv", kind="questions")).decode(
            "utf-8-sig"
        )
        assert len(next(csv.reader(io.StringIO(text), delimiter=delimiter))) == 4


async def test_an_event_sessions_files_name_every_organiser_of_the_event(api: Api) -> None:
    event = await make_event(api)
    partner = "partner@example.se"
    await second_organiser(api, partner)
    token = await api.organiser_token()
    r = await api.call(
        "POST", f"/api/v1/events/{event['id']}/organisers", token, json={"email": partner}
    )
    assert r.status_code == 201, r.text
    r = await api.call(
        "POST", "/api/v1/sessions", token, json={"title": "Pass", "event_id": event["id"]}
    )
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    doc = Document(io.BytesIO(await download(api, sid, SV, format="docx")))
    assert doc.core_properties.author == f"{ORGANISER_EMAIL}, {partner}"
