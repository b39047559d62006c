"""The event report's editor and its published page over HTTP: who may edit (401, 403), the
draft saved with its version (a stale one is 409 and loses nothing), the editor's form
without script, and the public page: public while published, 404 once withdrawn or with
its event deleted, a person's `<script>` shown as text."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from typing import Any

import httpx

from tests.conftest import Api
from tests.live.pages import csrf_of
from tests.live.test_archive_api import signed_in
from tests.live.test_boards_api import make_board, post_note
from tests.live.test_organiser_events import KIM, browser_of

SCRIPT = '<script>document.title="pwned"</script>Ett bra exempel'


async def ok(r: httpx.Response, status: int = 200) -> Any:
    assert r.status_code == status, r.text
    return r.json() if r.content else None


async def an_event(api: Api) -> dict[str, Any]:
    """An event with two sessions, a board each and notes (one named, one with a script);
    returns {eid, sessions, notes: {text: id}, people}."""
    token = await api.organiser_token()
    event = await ok(
        await api.call("POST", "/api/v1/events", token, json={"title": "Samverkansforum 2027"}),
        201,
    )
    made, notes, people = [], {}, []
    for n, title in enumerate(("Inledning", "Gruppsamtal")):
        body = {"title": title, "event_id": event["id"]}
        session = await ok(await api.call("POST", "/api/v1/sessions", token, json=body), 201)
        made.append(session)
        board = await make_board(api, session)
        person = await api.join(session, "Anna" if n == 0 else "Bo")
        people.append(person)
        texts = [f"Tydliga roller {n}", f"Långsiktig finansiering {n}"]
        if n == 1:
            texts.append(SCRIPT)
        for text in texts:
            note = await ok(await post_note(api, board, person["token"], text), 201)
            notes[text] = note["id"]
    return {"eid": event["id"], "sessions": made, "notes": notes, "people": people}


def _draft(version: int, notes: list[str], **more: Any) -> dict[str, Any]:
    items = [{"note_id": n} for n in notes]
    return {"version": version, "sections": [{"title": "Inleda", "items": items}], **more}


async def test_the_editor_answers_401_without_a_token_and_403_to_all_but_its_organisers(
    api: Api,
) -> None:
    event = await an_event(api)
    eid = event["eid"]
    async with browser_of(api, *KIM):
        pass
    other = await ok(
        await api.client.post("/api/v1/auth/token", json={"email": KIM[0], "password": KIM[1]})
    )
    calls = [
        ("GET", f"/api/v1/events/{eid}/report", None),
        ("PUT", f"/api/v1/events/{eid}/report", _draft(0, [])),
        ("POST", f"/api/v1/events/{eid}/report/publish", None),
        ("POST", f"/api/v1/events/{eid}/report/withdraw", None),
    ]
    strangers = {
        "participant": event["people"][0]["token"],
        "moderator of one session": event["sessions"][0]["moderator_token"],
        "another organiser": other["token"],
    }
    for method, path, body in calls:
        r = await api.call(method, path, json=body)
        assert r.status_code == 401, (method, path, r.text)
        for who, token in strangers.items():
            r = await api.call(method, path, token, json=body)
            assert r.status_code == 403, (who, method, path, r.text)
            assert r.json()["error"]["code"] == "forbidden"
    # Nothing was published by anyone of them.
    assert (await api.client.get(f"/e/{eid}/report")).status_code == 404
    # The editor's page: a sign-in first, and another organiser is refused.
    anonymous = await api.client.get(f"/organiser/events/{eid}/report")
    assert anonymous.status_code == 303 and "/login" in anonymous.headers["location"]
    async with browser_of(api, "eva@annan.se", "evas long password") as eva:
        assert (await eva.get(f"/organiser/events/{eid}/report")).status_code == 403


async def test_a_stale_draft_is_409_and_overwrites_nothing(api: Api) -> None:
    event = await an_event(api)
    eid, token = event["eid"], await api.organiser_token()
    path = f"/api/v1/events/{eid}/report"
    first = await ok(await api.call("GET", path, token))
    assert first["version"] == 0 and not first["published"]
    assert [s["title"] for s in first["sections"]] == ["Inleda", "Fördjupa", "Utvärdera"]
    saved = await ok(await api.call("PUT", path, token, json=_draft(0, [], summary="Ett")))
    assert saved["version"] == 1
    r = await api.call("PUT", path, token, json=_draft(0, [], summary="Två"))
    assert r.status_code == 409, r.text
    assert r.json()["error"] == {
        "code": "conflict",
        "message": "Someone else saved the report meanwhile; your text is kept here, "
        "reload to see theirs.",
    }
    assert (await ok(await api.call("GET", path, token)))["summary"] == "Ett"
    r = await api.call("PUT", path, token, json=_draft(1, ["nosuchnote"]))
    assert r.status_code == 422 and "sections[0].items[0].note_id" in r.text


async def test_the_public_page_shows_the_picked_notes_until_withdrawn_then_404(
    api: Api,
) -> None:
    event = await an_event(api)
    eid, token, n = event["eid"], await api.organiser_token(), event["notes"]
    picked = [n["Långsiktig finansiering 1"], n[SCRIPT], n["Tydliga roller 0"]]
    body = _draft(0, picked, summary="# Vad vi hörde\n\n<script>alert(1)</script> **Mycket**")
    body["sections"][0]["items"][0]["text"] = "Finansiering på lång sikt"
    await ok(await api.call("PUT", f"/api/v1/events/{eid}/report", token, json=body))
    assert (await api.client.get(f"/e/{eid}/report")).status_code == 404  # a draft only
    assert (await api.client.get("/e/a%00b/report")).status_code == 404
    published = await ok(await api.call("POST", f"/api/v1/events/{eid}/report/publish", token))
    assert published["published"] and published["public_url"].endswith(f"/e/{eid}/report")

    page = await api.client.get(f"/e/{eid}/report")
    assert page.status_code == 200
    text = page.text
    order = [text.index(t) for t in ("Finansiering på lång sikt", "Ett bra exempel", "roller 0")]
    assert order == sorted(order)
    assert "Långsiktig finansiering 1" not in text  # the shortened wording is printed
    assert "<script>" not in text.split("<body", 1)[1].replace('<script src="', "")
    assert "&lt;script&gt;" in text and "<strong>Mycket</strong>" in text
    assert "In cooperation with samla.test" in text or "I samarbete med samla.test" in text
    as_json = await ok(await api.client.get(f"/e/{eid}/report.json"))
    first = as_json["sections"][0]["items"][0]
    assert first["text"] == "Finansiering på lång sikt"
    # What the editor cut is not published; the original stays in the organisers' archive.
    assert "original" not in first and "Långsiktig finansiering 1" not in json.dumps(as_json)
    kept = await ok(await api.call("GET", f"/api/v1/events/{eid}/archive?format=json", token))
    assert "Långsiktig finansiering 1" in json.dumps(kept, ensure_ascii=False)

    await ok(await api.call("POST", f"/api/v1/events/{eid}/report/withdraw", token))
    assert (await api.client.get(f"/e/{eid}/report")).status_code == 404
    await ok(await api.call("POST", f"/api/v1/events/{eid}/report/publish", token))
    assert (await api.client.get(f"/e/{eid}/report")).status_code == 200
    await ok(await api.call("DELETE", f"/api/v1/events/{eid}", token), 204)
    assert (await api.client.get(f"/e/{eid}/report")).status_code == 404


class _Form(HTMLParser):
    """The fields a browser would post from the page's report form, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._textarea: str | None = None
        self._select: str | None = None
        self._chosen: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name"):
            if a.get("type") == "checkbox" and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.fields.append((a["name"], ""))
        elif tag == "select":
            self._select, self._chosen = a["name"], None
        elif tag == "option" and self._select and (self._chosen is None or "selected" in a):
            self._chosen = a["value"]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            name, value = self.fields[-1]
            self.fields[-1] = (name, value + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea":
            self._textarea = None
        elif tag == "select" and self._select:
            self.fields.append((self._select, self._chosen or ""))
            self._select = None


def form_of(html: str) -> list[tuple[str, str]]:
    parser = _Form()
    parser.feed(html.split('id="report-form"', 1)[1].split("</form>", 1)[0].join(["<x ", ""]))
    return [(k, v) for k, v in parser.fields]


def as_data(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    """The fields as httpx posts them: each name's values in their order."""
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return out


def with_field(fields: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    return [(k, value if k == name else v) for k, v in fields]


async def test_the_editor_form_works_without_script_and_keeps_text_on_a_conflict(
    api: Api,
) -> None:
    event = await an_event(api)
    eid, n = event["eid"], event["notes"]
    path = f"/organiser/events/{eid}/report"
    async with signed_in(api) as client:
        html = (await client.get(path)).text
        assert 'value="Inleda"' in html and "Tydliga roller 0" in html and "Gruppsamtal" in html
        # "Add" puts notes into the chosen section (the second), in the order pressed.
        for note in ("Tydliga roller 0", "Tydliga roller 1"):
            fields = [*with_field(form_of(html), "target", "1"), ("op", f"add:{n[note]}")]
            r = await client.post(path, data=as_data(fields))
            assert r.status_code == 303, r.text
            html = (await client.get(r.headers["location"])).text
        fields = form_of(html)
        assert [v for k, v in fields if k == "s-1-note"] == [
            n["Tydliga roller 0"],
            n["Tydliga roller 1"],
        ]
        # Moved up, shortened, summary typed, saved.
        fields = with_field(fields, f"short-{n['Tydliga roller 1']}", "Roller")
        fields = with_field(fields, "summary", "Sammanfattat.")
        r = await client.post(path, data=as_data([*fields, ("op", "up:1:1")]))
        assert r.status_code == 303
        html = (await client.get(r.headers["location"])).text
        assert [v for k, v in form_of(html) if k == "s-1-note"] == [
            n["Tydliga roller 1"],
            n["Tydliga roller 0"],
        ]
        assert ">Roller</textarea>" in html and ">Sammanfattat.</textarea>" in html
        # Someone else saves meanwhile: this form's save is refused, its text kept.
        stale = with_field(form_of(html), "summary", "Min egen text")
        token = await api.organiser_token()
        draft = await ok(await api.call("GET", f"/api/v1/events/{eid}/report", token))
        draft["summary"] = "Deras text"
        await ok(await api.call("PUT", f"/api/v1/events/{eid}/report", token, json=draft))
        r = await client.post(path, data=as_data([*stale, ("op", "save")]))
        assert r.status_code == 409
        assert "Min egen text" in r.text and 'role="alert"' in r.text
        again = await ok(await api.call("GET", f"/api/v1/events/{eid}/report", token))
        assert again["summary"] == "Deras text"
        # The autosave's JSON answer, and publishing from the form.
        fresh = form_of((await client.get(path)).text)
        r = await client.post(
            path,
            data=as_data([*with_field(fresh, "summary", "Sparat"), ("op", "save")]),
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 200 and r.json() == {"version": again["version"] + 1}
        fresh = with_field(fresh, "version", str(again["version"] + 1))
        r = await client.post(path, data=as_data([*fresh, ("op", "publish")]))
        assert r.status_code == 303 and "done=published" in r.headers["location"]
    public = await api.client.get(f"/e/{eid}/report")
    assert public.status_code == 200 and "Roller" in public.text
    assert re.search(r"Roller.*Tydliga roller 0", public.text, re.S)


async def test_a_form_without_its_csrf_token_saves_nothing(api: Api) -> None:
    event = await an_event(api)
    path = f"/organiser/events/{event['eid']}/report"
    async with signed_in(api) as client:
        html = (await client.get(path)).text
        fields = [(k, v) for k, v in form_of(html) if k != "csrf"]
        fields = with_field(fields, "summary", "Från en annan sida")
        r = await client.post(path, data=as_data([*fields, ("op", "save")]))
        assert r.status_code == 403
        assert csrf_of((await client.get(path)).text)
    token = await api.organiser_token()
    draft = await ok(await api.call("GET", f"/api/v1/events/{event['eid']}/report", token))
    assert draft["summary"] == "" and draft["version"] == 0
