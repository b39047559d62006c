"""The accessibility statement: in Swedish and English, shaped after DIGG's template, linked
from every page but the hall's screen, and itself without a violation axe can find."""

from __future__ import annotations

import re
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from live.pages import statement
from live.templating import Templates
from tests.conftest import PHONE, Served, axe_violations

pytestmark = pytest.mark.browser

# The sections of DIGG's template, in its order, in each language.
SECTIONS = {
    "sv": [
        "Hur tillgänglig är tjänsten?",
        "Vad kan du göra om du inte kan använda delar av tjänsten?",
        "Rapportera brister i tjänstens tillgänglighet",
        "Tillsyn",
        "Teknisk information om tjänstens tillgänglighet",
        "Innehåll som inte är tillgängligt",
        "Hur vi testat tjänsten",
    ],
    "en": [
        "How accessible is the service?",
        "What can you do if you cannot use parts of the service?",
        "Report a gap in the service's accessibility",
        "Enforcement",
        "Technical information about the service's accessibility",
        "Content that is not accessible",
        "How we tested the service",
    ],
}
HEADING = re.compile(r"<h[23][^>]*>([^<]+)</h[23]>")


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_the_statement_follows_diggs_template_in_the_readers_language(
    served: Served, lang: str
) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        r = await client.get("/accessibility", headers={"Accept-Language": lang})
    assert r.status_code == 200
    assert f'<html lang="{lang}">' in r.text
    assert [h for h in HEADING.findall(r.text) if h in SECTIONS[lang]] == SECTIONS[lang]
    assert 'href="https://www.digg.se/tdosanmalan"' in r.text
    assert "Myndigheten för digital förvaltning" in r.text
    # No address configured: the reader is sent to their organiser, never to a dead end.
    assert "mailto:" not in r.text
    assert ("arrangören" if lang == "sv" else "organiser") in r.text
    assert ("2 december 2026" if lang == "sv" else "2 December 2026") in r.text


def _request_with(contact: Any) -> Any:
    settings = SimpleNamespace(accessibility_contact=contact)
    return SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(samla=SimpleNamespace(settings=settings)))
    )


def test_the_organisers_address_is_shown_when_it_is_an_address() -> None:
    assert statement.contact_of(_request_with("tillganglighet@kommun.se")) == (
        "tillganglighet@kommun.se"
    )
    assert statement.contact_of(_request_with(None)) is None
    assert statement.contact_of(_request_with('x@y.se" onclick="z')) is None
    assert statement.contact_of(_request_with("not an address")) is None


async def test_every_page_links_the_statement_in_its_footer(served: Served) -> None:
    async with httpx.AsyncClient(base_url=served.base) as client:
        for path in ("/", "/login", "/accessibility", "/no-such-page"):
            r = await client.get(path)
            footer = re.search(r'<footer class="foot">(.*?)</footer>', r.text, re.S)
            assert footer is not None, path
            assert 'href="/accessibility"' in footer[1], path


def test_a_page_for_the_hall_empties_the_chrome_and_loses_header_and_footer() -> None:
    env = Templates()._envs["en"]
    request = SimpleNamespace(url=SimpleNamespace(path="/"))
    hall = '{% extends "base.html" %}{% block chrome %}{% endblock %}'
    bare = env.from_string(hall + "{% block main %}hall{% endblock %}").render(request=request)
    dressed = env.from_string('{% extends "base.html" %}{% block main %}page{% endblock %}').render(
        request=request
    )
    for html, chrome in ((bare, False), (dressed, True)):
        assert ('<header class="top">' in html) is chrome
        assert ('<footer class="foot">' in html) is chrome
        assert ('class="skip"' in html) is chrome
        assert '<main id="main">' in html


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_axe_finds_nothing_on_the_statement(served: Served, browser: Any, lang: str) -> None:
    context = await browser.new_context(
        viewport=PHONE, locale=lang, extra_http_headers={"Accept-Language": lang}
    )
    page = await context.new_page()
    await page.goto(f"{served.base}/accessibility")
    await page.get_by_role("heading", level=1).wait_for()
    await page.screenshot(path=f"/tmp/shots/accessibility-{lang}.png", full_page=True)
    assert await axe_violations(page) == []
    # The footer link is reachable by keyboard and leads back to the statement.
    link = page.get_by_role("contentinfo").get_by_role("link")
    assert await link.get_attribute("href") == "/accessibility"
    await context.close()
