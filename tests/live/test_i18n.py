"""Every string a person reads exists in Swedish as well as English."""

from __future__ import annotations

from pathlib import Path

import httpx
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from tests.conftest import Api, Served

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "live" / "locale" / "sv" / "LC_MESSAGES" / "messages.po"


def test_every_template_string_has_a_swedish_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="sv")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string))
    }
    method_map = [("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    used = {
        (msg if isinstance(msg, str) else msg[0])
        for _, _, msg, _, _ in extract_from_dir(str(ROOT), method_map, options)
    }
    assert len(used) > 30  # the extraction really read the templates
    assert sorted(used - translated) == []


async def test_pages_speak_swedish_when_the_browser_asks(served: Served, api: Api) -> None:
    session = await api.make_session("Samverkan")
    async with httpx.AsyncClient(base_url=served.base) as client:
        sv = await client.get(
            f"/j/{session['code']}", headers={"Accept-Language": "sv-SE,sv;q=0.9"}
        )
        en = await client.get(f"/j/{session['code']}", headers={"Accept-Language": "en-GB"})
        assert "Ditt namn (valfritt)" in sv.text and 'lang="sv"' in sv.text
        assert "Your name (optional)" in en.text and 'lang="en"' in en.text
        chosen = await client.get("/lang/sv?next=/", follow_redirects=True)
        assert "Gå med i en programpunkt" in chosen.text
