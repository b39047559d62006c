"""Jinja2 templates with gettext: every string a person reads, in English or Swedish.

Filters and globals every template may use (the viewer's language is the page's):

    {{ when|datetime }}   a moment as "1 dec. 2026 18:29" (sv) / "1 Dec 2026, 18:29" (en),
                          in TIME_ZONE (default Europe/Stockholm); `when` is a datetime
                          (naive: UTC) or an ISO 8601 text such as "2026-12-01T17:29:00Z"
    {{ when|date }}       the day only: "1 dec. 2026" / "1 Dec 2026"
    {{ when|time }}       the time of day only: "18:29"
    {{ n|number }}        a number by locale: 3,5 / 3.5; 1 234 / 1,234
    {{ n|number(1) }}     at most one decimal: 3,47 -> "3,5"
    {{ share|percent }}   a share 0..1 as a percentage: "36 %" / "36%"
    {{ name|label }}      a name Samla gave by default ("Room 3", a board template's columns
                          such as "Goda exempel") in the viewer's language; any other text,
                          a person's own, is shown as it is
                          (every {{ value }} that is such a name already is: the
                          environment's `finalize`; the filter is for names inside text)
    {{ _(message) }}      also translates refusals with values in them ("3 rooms for 2
                          participants …"), through the catalog's entries with %(name)s

A filter given None or "" shows "" (a field that is not set)."""

from __future__ import annotations

import gettext
import io
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeAlias
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale
from babel.dates import format_date, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from live.assets import static_url
from rooms.archive_words import LANGUAGE_TAGS, Words
from rooms.sessions import show_code

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALES = Path(__file__).parent / "locale"
LANGUAGES = ("en", "sv")
DEFAULT_LANGUAGE = "en"
DEFAULT_TIME_ZONE = "Europe/Stockholm"
# The Babel locale of each language's numbers and dates (English as in Britain: 1 Dec 2026).
BABEL_LOCALES = {"en": "en_GB", "sv": "sv_SE"}
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# A default room name, as the domain gives it ("Room 3"): shown per viewer.
_DEFAULT_ROOM = re.compile(r"(?:Room|Grupp|Rum) (\d{1,3})")
NAME_MAX = 40  # no default name is longer
# Names Samla gives by default and shows per viewer (`label`); the domain's board templates
# are written in Swedish, the catalog maps these English words to them.
DEFAULT_NAMES = (
    "Good examples / Challenges / Ideas",
    "Good examples",
    "Challenges",
    "Ideas",
    "Start / Establish / Evaluate",
    "Start",
    "Establish",
    "Evaluate",
    "Notes",
    "Ways of working and methods",
    "Platforms and networks",
    "Reading tips",
)


class Catalog(gettext.GNUTranslations):
    """A language's catalog; a message it does not hold word for word may still be one of its
    entries with values in it ("%(n)s rooms for %(people)s participants …"): then the values
    are put into the translation (each translated too, when the catalog holds it)."""

    _patterns: list[tuple[re.Pattern[str], str]]

    def prepare(self) -> None:
        found: list[tuple[int, re.Pattern[str], str]] = []
        for msgid, msgstr in self._catalog.items():  # type: ignore[attr-defined]
            if not isinstance(msgid, str) or "%(" not in msgid or "\x04" in msgid or not msgstr:
                continue
            parts = _PLACEHOLDER.split(msgid)
            regex = "".join(
                f"(?P<{part}>.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
            )
            try:
                pattern = re.compile(regex + r"\Z", re.DOTALL)
            except re.error:  # a name used twice in one message
                continue
            found.append((len(_PLACEHOLDER.sub("", msgid)), pattern, msgstr))
        # The most specific first: more fixed words match before fewer.
        found.sort(key=lambda f: -f[0])
        self._patterns = [(pattern, msgstr) for _, pattern, msgstr in found]

    def _value(self, value: str) -> str:
        """A value in a refusal: a word the catalog knows, a default room name, or as it is."""
        room = _DEFAULT_ROOM.fullmatch(value)
        if room is not None:
            return self.pgettext(DEFAULT_NAME, ROOM_N) % {"n": room.group(1)}
        return super().gettext(value)

    def gettext(self, message: str) -> str:
        found = super().gettext(message)
        if found is not message or "%(" in message:
            return found
        for regex, translation in self._patterns:
            m = regex.match(message)
            if m is not None:
                values = {k: self._value(v) for k, v in m.groupdict().items()}
                try:
                    return translation % values
                except (KeyError, ValueError, TypeError):
                    return message
        return message


def time_zone_from_env() -> str:
    """TIME_ZONE as the environment gives it, checked (see `live.settings`)."""
    name = os.environ.get("TIME_ZONE", "").strip() or DEFAULT_TIME_ZONE
    zone_named(name)
    return name


@lru_cache(maxsize=8)
def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"TIME_ZONE {name!r} is not a time zone: use a name such as Europe/Stockholm or UTC"
        ) from None


def _moment(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# A moment as the store or the domain gives it: a datetime (naive: UTC) or ISO 8601 text.
Moment: TypeAlias = "datetime | str"


class Formats:
    """Numbers and moments as people of one language read them, in Samla's time zone: the
    filters of that language's pages, and the words of the archive's formats."""

    def __init__(self, lang: str, time_zone: str = DEFAULT_TIME_ZONE) -> None:
        self.locale = Locale.parse(BABEL_LOCALES.get(lang, BABEL_LOCALES[DEFAULT_LANGUAGE]))
        self.zone = zone_named(time_zone)

    def local(self, value: Moment) -> datetime:
        return _moment(value).astimezone(self.zone)

    def datetime(self, value: Moment | None) -> str:
        if value in (None, ""):
            return ""
        assert value is not None
        moment = self.local(value)
        pattern = str(self.locale.datetime_formats["medium"])
        return pattern.replace("{1}", self.date(moment)).replace("{0}", self.time(moment))

    def date(self, value: Moment | None) -> str:
        if value in (None, ""):
            return ""
        assert value is not None
        return format_date(self.local(value), "medium", locale=self.locale)

    def time(self, value: Moment | None) -> str:
        if value in (None, ""):
            return ""
        assert value is not None
        return format_time(self.local(value), "short", locale=self.locale)

    def number(self, value: float | int | None, digits: int | None = None) -> str:
        if value is None:
            return ""
        if digits is None:
            return format_decimal(value, locale=self.locale)
        pattern = "#,##0" + ("." + "#" * digits if digits > 0 else "")
        return format_decimal(round(value, digits), format=pattern, locale=self.locale)

    def percent(self, share: float | None) -> str:
        if share is None:
            return ""
        return format_percent(share, locale=self.locale)


DEFAULT_NAME = "default name"  # the catalog's context of the names `label` shows
ROOM_N = "Room %(n)s"  # a room opened without a name


def _label(translations: gettext.NullTranslations, reverse: dict[str, str], name: Any) -> Any:
    """A default name in the viewer's language; a person's own text as it is."""
    if not isinstance(name, str):
        return name
    room = _DEFAULT_ROOM.fullmatch(name)
    if room is not None:
        return translations.pgettext(DEFAULT_NAME, ROOM_N) % {"n": room.group(1)}
    english = name if name in DEFAULT_NAMES else reverse.get(name)
    return translations.pgettext(DEFAULT_NAME, english) if english is not None else name


@cache
def _load_translations() -> tuple[dict[str, gettext.NullTranslations], frozenset[str]]:
    """Catalogs are read from the .po sources at start (once per process, however many apps
    it makes): no compiled files to keep in step.
    Also every message the catalogs know (translated or not), to tell a template's own text
    from a message the code built (a refusal naming what someone typed)."""
    out: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    known: set[str] = set()
    for lang in LANGUAGES:
        po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        if lang == "en" or not po.exists():
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        known.update(m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        translations = Catalog(buf)
        translations.prepare()
        out[lang] = translations
    return out, frozenset(known)


def _gettext_for_templates(
    translations: gettext.NullTranslations, known: frozenset[str]
) -> Callable[..., str]:
    """`_()` and `gettext()` in templates, as Jinja's newstyle gettext (a template's text is
    a format string: %(name)s takes the values given) except for a message the code built,
    such as a refusal naming what someone typed: shown as it is, a % sign in it too."""

    @pass_context
    def gettext_(context: Context, message: str, **variables: Any) -> str:
        rv = str(context.call(translations.gettext, message))
        if not variables and message not in known:
            # Built by the code, perhaps from what someone typed: text, never markup.
            return escape(rv) if context.eval_ctx.autoescape else rv
        if context.eval_ctx.autoescape:
            return Markup(rv) % variables  # noqa: S704 (the catalog's text; values escaped)
        return rv % variables

    return gettext_


# Scripts fetched only once a page shows what they serve, by the selector that finds it: a
# phone that is never in a room with minutes never downloads their editor.
LAZY_SCRIPTS = {"minutes.js": "[data-minutes]"}


class Templates:
    def __init__(self, time_zone: str | None = None) -> None:
        self.time_zone = time_zone or time_zone_from_env()
        self._translations, self._known = _load_translations()
        # A default name in any of Samla's languages, back to its English (`label`).
        self._defaults = {
            t.pgettext(DEFAULT_NAME, name): name
            for t in self._translations.values()
            for name in DEFAULT_NAMES
        }
        self._envs = {lang: self._env(lang) for lang in LANGUAGES}

    def _env(self, lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            enable_async=False,
            # Every {{ value }} that is a default name Samla gave ("Room 3", "Goda exempel")
            # shows in the page's language, whichever template shows it.
            finalize=self._finalizer(lang),
        )
        translations = self._translations.get(lang, gettext.NullTranslations())
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        env.globals["gettext"] = _gettext_for_templates(translations, self._known)
        env.globals["lang"] = lang
        env.filters["code"] = show_code  # a join code as people read it: "1234 5678"
        # Numbers, moments and default names by the page's language (see the module's text).
        formats = self.formats(lang)
        env.filters["datetime"] = formats.datetime
        env.filters["date"] = formats.date
        env.filters["time"] = formats.time
        env.filters["number"] = formats.number
        env.filters["percent"] = formats.percent
        env.filters["label"] = self.labeller(lang)
        env.globals["static_url"] = static_url  # /static/<name>?v=<hash>, cached for a year
        # Each feature may bring its own stylesheet; the pages link them all.
        env.globals["stylesheets"] = sorted(
            p.name for p in (ROOT / "static").glob("*.css") if p.name != "samla.css"
        )
        # Small scripts for what HTML cannot do (a countdown, a drag), all deferred; a larger
        # one that few screens show loads when its first element appears (static/live.js).
        env.globals["scripts"] = sorted(
            p.name for p in (ROOT / "static").glob("*.js") if p.name not in LAZY_SCRIPTS
        )
        env.globals["lazy_scripts"] = LAZY_SCRIPTS
        return env

    def gettext(self, lang: str, message: str) -> str:
        return self._translations.get(lang, self._translations["en"]).gettext(message)

    def formats(self, lang: str) -> Formats:
        return Formats(lang, self.time_zone)

    def _finalizer(self, lang: str) -> Callable[[Any], Any]:
        label = self.labeller(lang)
        names = set(self._defaults)

        def finalize(value: Any) -> Any:
            # Only data (plain text, not a template's own translated Markup), and only a
            # text short enough to be a default name.
            if (
                type(value) is str
                and len(value) <= NAME_MAX
                and (value in names or _DEFAULT_ROOM.fullmatch(value))
            ):
                return label(value)
            return value

        return finalize

    def words(self, lang: str) -> Words:
        """The archive's words in one language: its translations, moments in TIME_ZONE,
        numbers and shares by locale (`rooms.archive_formats`)."""
        formats = self.formats(lang)
        label = self.labeller(lang)

        def t(message: str) -> str:
            return str(label(self.gettext(lang, message)))

        return Words(
            t,
            formats.datetime,
            formats.number,
            formats.percent,
            LANGUAGE_TAGS.get(lang, LANGUAGE_TAGS["en"]),
            self.time_zone,
        )

    def labeller(self, lang: str) -> Callable[[Any], Any]:
        """`label` for one language: a name Samla gave by default, in that language."""
        translations = self._translations.get(lang, self._translations["en"])
        return lambda name: _label(translations, self._defaults, name)

    def render(self, name: str, lang: str, **context: Any) -> str:
        env = self._envs.get(lang, self._envs[DEFAULT_LANGUAGE])
        return env.get_template(name).render(**context)


def pick_language(accept_language: str | None, chosen: str | None = None) -> str:
    """The visitor's choice, else the first of their browser's languages Samla speaks."""
    if chosen in LANGUAGES:
        return chosen
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in LANGUAGES:
            return tag
    return DEFAULT_LANGUAGE
