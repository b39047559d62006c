"""Every string a person reads exists in Swedish as well as English, and a Swedish page says
nothing in English: the demo's pages are read in Swedish and searched for the catalog's
English."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import update
from sqlmodel import col

from live.demo import DEMO_EMAIL, fill
from live.settings import ConfigError, Settings
from live.templating import DEFAULT_NAMES, Templates
from rooms.models import Session
from tests.conftest import ORGANISER_EMAIL, ORGANISER_PASSWORD, Api, Served
from tests.live.pages import csrf_of
from tests.live.test_polls_api import make_poll, open_poll, vote_path

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "live" / "locale" / "sv" / "LC_MESSAGES" / "messages.po"
SV = {"Accept-Language": "sv-SE,sv;q=0.9"}


def _catalog() -> list[tuple[str, str, str | None]]:
    """(English, Swedish, context) of every translated entry."""
    with PO.open("rb") as f:
        catalog = read_po(f, locale="sv")
    out = []
    for m in catalog:
        if not m.id:
            continue
        english = m.id if isinstance(m.id, str) else m.id[0]
        swedish = m.string if isinstance(m.string, str) else (m.string or ("",))[0]
        if swedish:
            out.append((english, swedish, m.context))
    return out


def _said() -> set[str]:
    """Every message the templates and the code give to be translated, as `make messages`
    finds them."""
    keywords = {**DEFAULT_KEYWORDS, "Refused": (2,), "invalid": None, "forbidden": None}
    method_map = [("templates/**.html", "jinja2"), ("rooms/**.py", "python")]
    method_map.append(("live/**.py", "python"))
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found = extract_from_dir(str(ROOT), method_map, options, keywords=keywords)
    return {(msg if isinstance(msg, str) else msg[0]) for _, _, msg, _, _ in found}


def test_every_template_string_has_a_swedish_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f, locale="sv")
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id and (m.string if isinstance(m.string, str) else all(m.string or ()))
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


# -- what a page says ---------------------------------------------------------------------

# Where a line of text ends: the text of one of these is never read as one phrase with the
# next one's.
BLOCKS = frozenset(
    [
        "address",
        "article",
        "aside",
        "blockquote",
        "br",
        "button",
        "dd",
        "details",
        "dialog",
        "div",
        "dl",
        "dt",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "label",
        "legend",
        "li",
        "main",
        "nav",
        "ol",
        "optgroup",
        "option",
        "output",
        "p",
        "pre",
        "section",
        "select",
        "summary",
        "table",
        "tbody",
        "td",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "tr",
        "ul",
    ]
)
# Read aloud or shown although they are attributes.
SPOKEN = ("aria-label", "aria-description", "placeholder", "title", "alt", "label")
UNREAD = frozenset({"script", "style", "template", "code", "svg"})


class _Reader(HTMLParser):
    """A page's lines of visible text, and the attributes a screen reader speaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = [""]
        self.spoken: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in UNREAD:
            self._skip += 1
        if tag in BLOCKS:
            self.lines.append("")
        named = dict(attrs)
        self.spoken += [v for k, v in attrs if k in SPOKEN and v]
        if tag == "input" and named.get("type") in ("submit", "button") and named.get("value"):
            self.spoken.append(named["value"] or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in UNREAD and self._skip:
            self._skip -= 1
        if tag in BLOCKS:
            self.lines.append("")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.lines[-1] += data

    def texts(self) -> list[str]:
        out = [" ".join(t.split()) for t in self.lines + self.spoken]
        return [t for t in out if t]


def visible_texts(html: str) -> list[str]:
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return reader.texts()


_VALUE = re.compile(r"%\(\w+\)[sd]|%[sd]")


def _fixed(english: str) -> str:
    """The words of a message without its values."""
    return _VALUE.sub("", " ".join(english.split()))


def _phrase(english: str) -> re.Pattern[str] | None:
    """The English as a whole phrase (a number where it counts one, any short text for
    another value), or None for one too short to tell from a name or a number."""
    words = " ".join(english.split())
    if len(_fixed(words).strip(" :.·,()")) < 3:
        return None
    values = _VALUE.findall(words)
    body = ""
    for i, part in enumerate(_VALUE.split(words.replace("%%", "%"))):
        if i:
            body += r"[\d\s.,]{1,12}?" if values[i - 1].endswith("d") else r".{1,120}?"
        body += re.escape(part)
    return re.compile(r"(?<![\w%-])" + body + r"(?![\w-])")


@dataclass
class EnglishFinder:
    """The catalog's English whose Swedish differs; what of it a Swedish page shows."""

    phrases: list[tuple[str, re.Pattern[str]]] = field(default_factory=list)

    @classmethod
    def from_catalog(cls) -> EnglishFinder:
        """The catalog's English whose Swedish differs, and what the templates and the code
        say that has no Swedish yet (not even extracted into the catalog)."""
        finder = cls()
        catalog = _catalog()
        seen = set()
        untranslated = sorted(_said() - {english for english, _, _ in catalog})
        for english, swedish, _context in [*catalog, *((u, "", None) for u in untranslated)]:
            if english == swedish or english in seen:
                continue
            seen.add(english)
            phrase = _phrase(english)
            if phrase is not None:
                finder.phrases.append((english, phrase))
        return finder

    def english_in(self, html: str) -> list[str]:
        found = []
        for text in visible_texts(html):
            hits = [
                (m.start(), m.end(), english)
                for english, phrase in self.phrases
                for m in phrase.finditer(text)
            ]
            # A phrase inside a longer one found there is that one's part ("Close" in
            # "Close the session").
            found += [
                f"{english!r} in {text[:100]!r}"
                for start, end, english in hits
                if not any(
                    s <= start and end <= e and len(_fixed(other)) > len(_fixed(english))
                    for s, e, other in hits
                )
            ]
            # Numbers and times as English writes them.
            found += [f"English number {m!r} in {text[:100]!r}" for m in _DECIMAL.findall(text)]
            if _UTC.search(text):
                found.append(f"a time in UTC in {text[:100]!r}")
            if _ISO.search(text):
                found.append(f"a moment as a machine writes it in {text[:100]!r}")
        return found


_DECIMAL = re.compile(r"(?<![\w.,])\d+\.\d+(?![\w.])")
_UTC = re.compile(r"\bUTC\b")
_ISO = re.compile(r"\b\d{4}-\d\d-\d\d[T ]\d\d:\d\d")


def test_the_finder_finds_english_and_passes_swedish() -> None:
    finder = EnglishFinder.from_catalog()
    english = (
        '<main><h1>Sorry</h1><p>No such session with that code.</p><button aria-label="Close '
        'the session">x</button><p>Mean: 3.5</p><p>until 18:40 UTC</p>'
        "<p>Made: 2026-12-02T02:35:22Z</p></main>"
    )
    found = finder.english_in(english)
    assert any("'Sorry'" in f for f in found)
    assert any("No such session with that code." in f for f in found)
    assert any("English number '3.5'" in f for f in found)
    assert any("UTC" in f for f in found)
    assert any("machine" in f for f in found)
    swedish = (
        "<main><h1>Tyvärr</h1><p>Det finns ingen programpunkt med den koden.</p>"
        "<p>Medel: 3,5</p><script>var Sorry = 1</script><p>Anna Start-Berg</p></main>"
    )
    assert finder.english_in(swedish) == []


# -- the demo, read in Swedish -------------------------------------------------------------


@dataclass
class DemoLinks:
    password: str
    joins: list[str] = field(default_factory=list)
    moderators: list[str] = field(default_factory=list)


def _links(printed: str) -> DemoLinks:
    password = re.search(r"with password (\S+)", printed)
    assert password, printed
    links = DemoLinks(password.group(1))
    links.joins = re.findall(r"join:\s+(\S+)", printed)
    links.moderators = re.findall(r"moderator:\s+(\S+)", printed)
    assert len(links.joins) == len(links.moderators) >= 4, printed
    return links


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


async def _get(client: httpx.AsyncClient, path: str, pages: dict[str, str]) -> str:
    r = await client.get(path, follow_redirects=True)
    assert r.status_code < 500, (path, r.status_code, r.text[:500])
    pages[f"{path} ({r.status_code})"] = r.text
    return r.text


async def _read_the_demo(served: Served) -> dict[str, str]:
    """Every page a person sees of the demo, in Swedish: {what: html}."""
    links = _links(await fill(served.settings, served.base))
    pages: dict[str, str] = {}
    timeout = httpx.Timeout(30)
    async with httpx.AsyncClient(base_url=served.base, headers=SV, timeout=timeout) as anyone:
        await _get(anyone, "/", pages)
        await _get(anyone, "/login", pages)
        await _get(anyone, "/accessibility", pages)
        await _get(anyone, "/j/99999999", pages)  # no such session
        await _get(anyone, "/s/nosuchsession", pages)
        await _get(anyone, "/no/such/page", pages)
        for join in links.joins:
            await _get(anyone, _path(join), pages)
        # A code that does not exist, typed on the start page.
        await _get(anyone, "/?code=1111+2222", pages)
    # A participant in each session: the plenary, and (while rooms are open) a room.
    for join in links.joins:
        async with httpx.AsyncClient(base_url=served.base, headers=SV, timeout=timeout) as one:
            form = await one.get(_path(join))
            r = await one.post(
                _path(join),
                data={"csrf": csrf_of(form.text), "name": "Vera Lund"},
                follow_redirects=True,
            )
            assert r.status_code == 200, r.text[:500]
            pages[f"participant of {join}"] = r.text
    # The moderator's console of each session, its stage, its rooms and table sheets.
    for moderate in links.moderators:
        async with httpx.AsyncClient(base_url=served.base, headers=SV, timeout=timeout) as mod:
            html = await _get(mod, _path(moderate), pages)
            sid = re.search(r"/s/([^/]+)/moderate", moderate)
            assert sid
            await _get(mod, f"/s/{sid.group(1)}/stage", pages)
            await _get(mod, f"/s/{sid.group(1)}/tables", pages)
            for rid in sorted(set(re.findall(rf"/s/{sid.group(1)}/rooms/([\w-]+)", html)))[:2]:
                await _get(mod, f"/s/{sid.group(1)}/rooms/{rid}", pages)
    # The organiser: the sessions, each one's report and its delete page.
    async with httpx.AsyncClient(base_url=served.base, headers=SV, timeout=timeout) as org:
        form = await org.get("/login")
        r = await org.post(
            "/login",
            data={"csrf": csrf_of(form.text), "email": DEMO_EMAIL, "password": "wrong password"},
        )
        pages["login refused"] = r.text
        r = await org.post(
            "/login",
            data={"csrf": csrf_of(form.text), "email": DEMO_EMAIL, "password": links.password},
            follow_redirects=True,
        )
        assert r.status_code == 200, r.text[:500]
        html = await _get(org, "/organiser", pages)
        for sid in sorted(set(re.findall(r"/s/([\w-]+)/archive", html))):
            await _get(org, f"/s/{sid}/archive?format=html", pages)
            await _get(org, f"/organiser/sessions/{sid}/delete", pages)
            await _get(org, f"/s/{sid}/presenter", pages)
    return pages


async def test_the_swedish_pages_of_the_demo_say_nothing_in_english(served: Served) -> None:
    """The API's own page (/api) stays English: it documents field names and codes."""
    pages = await _read_the_demo(served)
    assert len(pages) > 20
    assert all('lang="sv"' in html for what, html in pages.items() if "<html" in html), [
        what for what, html in pages.items() if 'lang="sv"' not in html
    ]
    finder = EnglishFinder.from_catalog()
    # Each English phrase once, where it was first seen, and on how many pages.
    found: dict[str, tuple[str, set[str]]] = {}
    for what, html in pages.items():
        for finding in finder.english_in(html):
            phrase = finding.split(" in ")[0]
            found.setdefault(phrase, (f"{finding}  [{what}]", set()))[1].add(what)
    report = [f"{first} (on {len(where)} pages)" for first, where in found.values()]
    assert not report, f"{len(report)} English strings on Swedish pages:\n" + "\n".join(report)


# -- refusals, default names, numbers and moments ------------------------------------------


def test_refusals_with_values_are_translated_with_their_values() -> None:
    t = Templates(time_zone="Europe/Stockholm")
    rooms = (
        "5 rooms for 3 participants would leave rooms empty; open at most 3 rooms, "
        "or prepare them and open them once people have joined."
    )
    assert t.gettext("sv", rooms) == (
        "5 grupprum för 3 deltagare skulle lämna grupprum tomma; öppna högst 3 grupprum, "
        "eller förbered dem och öppna dem när fler har anslutit."
    )
    assert t.gettext("en", rooms) == rooms
    scale = "The scale must go up from min to max, within ±1000, with at most 11 values."
    assert t.gettext("sv", scale).startswith("Skalan ska gå uppåt")
    assert t.gettext("sv", "No such session with that code.") == (
        "Det finns ingen programpunkt med den koden."
    )
    # A value the catalog knows is translated too; one it does not is kept as it is.
    assert t.gettext("sv", "The question is 301 characters; at most 300 are allowed.") == (
        "Frågan har 301 tecken; högst 300 är tillåtna."
    )
    # A default room name in a refusal is the viewer's too.
    assert t.gettext("sv", "Room 3 is full (4 people); choose another room.") == (
        "Det är fullt i Grupp 3 (4 personer); välj ett annat grupprum."
    )
    assert t.gettext("sv", "'50%' is not one of the choices for 'sektor'.") == (
        "'50%' är inte ett av svarsalternativen för 'sektor'."
    )
    # In a template, a refusal is text: what someone typed is escaped, a % sign is kept.
    refusal = "'<b>50%' is not one of the choices for 'sektor'."
    page = t._envs["sv"].from_string("<p>{{ _(message) }}</p>").render(message=refusal)
    assert page == (
        "<p>&#39;&lt;b&gt;50%&#39; är inte ett av svarsalternativen för &#39;sektor&#39;.</p>"
    )


def _built_messages() -> set[str]:
    """The messages the code builds with a helper: `not_found("poll")` says "No such poll."."""
    out = set()
    for path in [*ROOT.glob("rooms/**/*.py"), *ROOT.glob("live/**/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("not_found")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                out.add(f"No such {node.args[0].value}.")
    return out


def test_every_refusal_the_code_builds_is_in_the_catalog() -> None:
    built = _built_messages()
    assert "No such session with that code." in built  # the scan really read the code
    known = {english for english, _, _ in _catalog()}
    assert sorted(built - known) == []


def test_default_names_show_in_the_viewers_language() -> None:
    t = Templates(time_zone="Europe/Stockholm")
    page = "{{ a }} · {{ b }} · {{ c }} · {{ d }} · {{ 'Ideas'|label }}"
    names = {"a": "Room 3", "b": "Goda exempel", "c": "Grupp A", "d": "Vår egen tavla"}
    sv = t._envs["sv"].from_string(page).render(**names)
    en = t._envs["en"].from_string(page).render(**names)
    assert sv == "Grupp 3 · Goda exempel · Grupp A · Vår egen tavla · Idéer"
    assert en == "Room 3 · Good examples · Grupp A · Vår egen tavla · Ideas"
    shown = {english for english, _, context in _catalog() if context == "default name"}
    assert set(DEFAULT_NAMES) <= shown


def test_numbers_and_moments_by_locale_in_samlas_time_zone() -> None:
    when = datetime(2026, 12, 1, 17, 29, tzinfo=UTC)  # 18:29 in Stockholm
    page = "{{ w|datetime }} | {{ w|date }} | {{ w|time }} | {{ n|number }} | {{ m|number(1) }}"
    values = {"w": when, "n": 3.5, "m": 1234.56}
    t = Templates(time_zone="Europe/Stockholm")
    sv = t._envs["sv"].from_string(page).render(**values)
    assert sv == "1 dec. 2026 18:29 | 1 dec. 2026 | 18:29 | 3,5 | 1\xa0234,6"
    en = t._envs["en"].from_string(page).render(**values)
    assert en == "1 Dec 2026, 18:29 | 1 Dec 2026 | 18:29 | 3.5 | 1,234.6"
    # Stored times are UTC, naive or ISO text alike; the zone is TIME_ZONE's.
    iso = Templates(time_zone="UTC")._envs["sv"].from_string("{{ w|datetime }}")
    assert iso.render(w="2026-12-01T17:29:00Z") == "1 dec. 2026 17:29"
    assert iso.render(w=datetime(2026, 12, 1, 17, 29)) == "1 dec. 2026 17:29"
    assert t._envs["sv"].from_string("{{ w|datetime }}{{ n|number }}").render(w=None, n=None) == ""


def test_time_zone_is_a_setting() -> None:
    assert Settings.from_env({}).time_zone == "Europe/Stockholm"
    assert Settings.from_env({"TIME_ZONE": "UTC"}).time_zone == "UTC"
    with pytest.raises(ConfigError, match="TIME_ZONE"):
        Settings.from_env({"TIME_ZONE": "Mars/Olympus"})


async def test_a_swedish_page_shows_numbers_and_moments_the_swedish_way(
    served: Served, api: Api
) -> None:
    """A scale's mean on the moderator's console; on the organiser's page for deleting a
    session, when it was made, in Stockholm time."""
    session = await api.make_session("Samverkan i praktiken")
    poll = await make_poll(api, session, kind="scale", scale={"min": 1, "max": 5})
    await open_poll(api, session, poll)
    for value in (3, 4):
        person = await api.join(session)
        r = await api.call("POST", vote_path(poll), person["token"], json={"value": value})
        assert r.status_code == 201, r.text
    made = datetime(2026, 12, 1, 17, 29, tzinfo=UTC)  # stored in UTC

    async def backdate() -> None:
        async with served.samla.store.write() as db:
            await db.execute(
                update(Session).where(col(Session.id) == session["id"]).values(created_at=made)
            )

    await served.run(backdate)
    async with httpx.AsyncClient(base_url=served.base, headers=SV) as org:
        form = await org.get("/login")
        await org.post(
            "/login",
            data={
                "csrf": csrf_of(form.text),
                "email": ORGANISER_EMAIL,
                "password": ORGANISER_PASSWORD,
            },
        )
        page = await org.get(f"/organiser/sessions/{session['id']}/delete")
    assert page.status_code == 200, page.text[:300]
    assert "1 dec. 2026 18:29" in page.text
    async with httpx.AsyncClient(base_url=served.base, headers=SV) as mod:
        key = session["moderator_token"]
        console = await mod.get(f"/s/{session['id']}/moderate?key={key}", follow_redirects=True)
    assert console.status_code == 200, console.text[:300]
    texts = visible_texts(console.text)
    assert any("3,5" in t for t in texts), [t for t in texts if "3" in t]
