"""The archive's HTML report shows a poll's splits and the cards' links: a link as its text
and a safe link, a list of links by kind, "fewer than 3" where a group is too small."""

from __future__ import annotations

import re

import pytest

from live.pages.report import render_report
from live.templating import Templates
from tests.rooms.test_archive import sample
from tests.rooms.test_archive_office import LINK, rich


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates(time_zone="Europe/Stockholm")


def test_a_cards_link_is_its_text_and_a_safe_link_and_never_a_script(
    templates: Templates,
) -> None:
    html = render_report(templates, rich(), "sv")
    anchors = re.findall(r"<a href=\"(https?://[^\"]*)\" rel=\"([^\"]*)\">([^<]*)</a>", html)
    escaped = LINK.replace("&", "&amp;")
    assert (escaped, "noopener noreferrer", escaped) in anchors
    assert len([a for a in anchors if a[0] == escaped]) == 2  # on the card, in the list
    # A link the cards would refuse, had one slipped through: text only, never a link.
    assert 'href="javascript' not in html and "javascript:alert(1)" in html


def test_the_report_lists_links_by_kind_and_shows_splits(templates: Templates) -> None:
    html = render_report(templates, rich(), "sv")
    links = html[html.index('<h2 id="links">') : html.index('<h2 id="questions">')]
    assert "Länklista" in links and '<a href="#links">' in html
    assert links.index("<h3>Lästips</h3>") < links.index("<h3>Övriga länkar</h3>")
    split = html[html.index('<table class="split">') :]
    split = split[: split.index("</table>")]
    assert "<caption>Dela upp efter: Sektor</caption>" in split
    assert '<th scope="row">Offentlig sektor</th><td class="n">färre än 3</td>' in split
    assert '<th scope="row">Inget svar</th>' in split


def test_a_report_without_links_or_splits_has_neither(templates: Templates) -> None:
    html = render_report(templates, sample(), "en")
    assert 'id="links"' not in html and 'class="split"' not in html
