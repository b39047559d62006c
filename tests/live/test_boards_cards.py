"""Good-example cards with a link and a kind, from the outside: the API, the archive, the page."""

from __future__ import annotations

import re
from typing import Any

import httpx

from live.screens.boards import read_note
from live.templating import Templates
from tests.conftest import Api
from tests.live.pages import join_by_form
from tests.live.test_boards_api import board_state, make_board

KINDS = ["Arbetssätt och metoder", "Plattformar och nätverk", "Lästips"]


async def test_a_card_with_a_link_and_a_kind_is_kept_and_bad_ones_store_nothing(api: Api) -> None:
    session = await api.make_session()
    # Objects and plain titles side by side; the card column with its own kinds.
    board = await make_board(
        api,
        session,
        columns=[{"title": "Goda exempel", "card": True, "kinds": KINDS}, "Idéer"],
    )
    assert board["columns"][0]["kinds"] == KINDS and board["columns"][1]["kinds"] == []
    assert board["columns"][1]["title"] == "Idéer" and board["columns"][1]["card"] is False
    anna = await api.join(session, "Anna")
    path = f"/api/v1/boards/{board['id']}/notes"
    cards = board["columns"][0]["id"]
    fields = {
        "what": "Samverkanslabbet",
        "link": "HTTPS://Example.se/labb?a=1&b=2",
        "kind": "Lästips",
    }
    r = await api.call("POST", path, anna["token"], json={"column": cards, "fields": fields})
    assert r.status_code == 201, r.text
    stored = {**fields, "link": "https://example.se/labb?a=1&b=2"}
    assert r.json()["fields"] == stored
    refused = {
        "link": [
            "javascript:alert(1)",
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "http://",
            "https://example.se/" + "a" * 482,  # 501 characters
        ],
        "kind": ["Poddar"],
    }
    for field, values in refused.items():
        for value in values:
            body = {"column": cards, "fields": {"what": "Något annat", field: value}}
            r = await api.call("POST", path, anna["token"], json=body)
            assert r.status_code == 422, (value, r.text)
            assert field in r.json()["error"]["message"], r.text
    # Nor does an edit to a bad link change the card.
    first = (await board_state(api, board["id"], anna["token"]))["notes"][0]
    body = {"fields": {"what": "Samverkanslabbet", "link": "javascript:alert(1)"}}
    r = await api.call("PATCH", f"/api/v1/notes/{first['id']}", anna["token"], json=body)
    assert r.status_code == 422 and "link" in r.json()["error"]["message"]
    state = await board_state(api, board["id"], anna["token"])
    assert [n["fields"] for n in state["notes"]] == [stored]
    # The phone's page shows it: the link as a safe link, its text escaped; the kind.
    async with httpx.AsyncClient(base_url=api.served.base, timeout=30) as phone:
        page = await join_by_form(phone, session["code"], "Erik")
    assert (
        '<a href="https://example.se/labb?a=1&amp;b=2" rel="noopener noreferrer" '
        'target="_blank" class="card-link">example.se/labb?a=1&amp;b=2<'
    ) in page
    # A kind Samla gave by default is shown in the viewer's language (this page's: English).
    assert '<span class="tag card-kind">Reading tips</span>' in page
    assert '<select id="card-kind" name="card_kind">' in page
    # A board made from the template offers the default kinds.
    examples = await make_board(api, session, title=None, columns=None, template="examples")
    assert examples["columns"][0]["kinds"] == KINDS
    # The archive carries them as card fields, after the others.
    r = await api.call(
        "GET",
        f"/api/v1/sessions/{session['id']}/archive?format=json",
        session["moderator_token"],
    )
    assert r.status_code == 200, r.text
    archived = [n for b in r.json()["boards"] for c in b["columns"] for n in c["notes"]]
    assert archived[0]["card"] == [
        {"name": "what", "value": "Samverkanslabbet"},
        {"name": "link", "value": "https://example.se/labb?a=1&b=2"},
        {"name": "kind", "value": "Lästips"},
    ]


def note_with(fields: dict[str, str]) -> dict[str, Any]:
    return {
        "id": "n1",
        "board_id": "b1",
        "column": "c1",
        "text": fields["what"],
        "fields": fields,
        "author": None,
        "upvotes": 0,
        "dots": 0,
        "hidden": False,
        "pinned": False,
        "collected_from": None,
        "created_at": "2026-12-01T10:00:00.000000Z",
    }


def test_a_cards_link_is_a_safe_link_and_its_text_is_escaped() -> None:
    link = 'https://www.example.se/a/"><script>alert(1)</script>/' + "x" * 80
    note = note_with({"what": "Bok", "link": link, "kind": "<b>Lästips</b>"})
    html = Templates().render("boards/_note.html", "sv", note=note, likeable=False, vote=None)
    anchors = re.findall(r"<a [^>]*>", html)
    assert len(anchors) == 1
    assert 'rel="noopener noreferrer"' in anchors[0] and 'target="_blank"' in anchors[0]
    assert 'href="https://www.example.se/a/&#34;&gt;&lt;script&gt;' in anchors[0]
    assert "<script>" not in html and "<b>" not in html
    assert "&lt;b&gt;Lästips&lt;/b&gt;" in html  # the kind, a small label
    # The text: the site and path without "www.", shortened.
    shown = re.search(r'class="card-link">([^<]*)<', html)
    assert shown is not None
    assert shown.group(1).startswith("example.se/a/&#34;&gt;&lt;script&gt;")
    assert shown.group(1).endswith("…") and len(shown.group(1)) < 120


def test_a_link_that_is_not_http_is_never_a_link() -> None:
    # Cards refuse such links; a page still never makes one of what is stored.
    note = note_with({"what": "Bok", "link": "javascript:alert(1)"})
    html = Templates().render("boards/_note.html", "en", note=note, likeable=False, vote=None)
    assert "<a " not in html and "href" not in html


def test_the_compose_form_asks_for_a_link_and_a_kind() -> None:
    column = {"id": "c1", "title": "Goda exempel", "card": True, "kinds": KINDS}
    board = {"id": "b1", "title": "Exempel", "room_id": None, "columns": [column]}
    html = Templates().render(
        "boards/_compose.html", "sv", boards=[board], mine=[], votes=[], nonce="n", oob=False
    )
    link = re.search(r'<input id="card-link"[^>]*>', html)
    assert link is not None
    assert 'type="url"' in link.group(0) and 'inputmode="url"' in link.group(0)
    assert 'name="card_link"' in link.group(0)
    kinds = re.search(r'<select id="card-kind" name="card_kind">(.*?)</select>', html, re.S)
    assert kinds is not None
    values = re.findall(r'<option value="([^"]*)"', kinds.group(1))
    assert values == ["", *KINDS]


def test_the_forms_link_and_kind_make_the_note_a_card() -> None:
    form = {
        "type": "note.add",
        "target": "b1:c1",
        "text": "Bok",
        "card_link": "https://example.se/",
        "card_kind": "Lästips",
        "card_who": "",
    }
    read = read_note(form)
    assert read["board"] == "b1" and read["column"] == "c1"
    assert read["fields"] == {"link": "https://example.se/", "kind": "Lästips", "what": "Bok"}
    plain = read_note({**form, "card_link": "", "card_kind": ""})
    assert "fields" not in plain
