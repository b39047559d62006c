"""Jinja2 templates with gettext: every string a person reads, in English or Swedish."""

from __future__ import annotations

import gettext
import io
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from jinja2 import Environment, FileSystemLoader, select_autoescape

from rooms.sessions import show_code

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
LOCALES = Path(__file__).parent / "locale"
LANGUAGES = ("en", "sv")
DEFAULT_LANGUAGE = "en"


def _load_translations() -> dict[str, gettext.NullTranslations]:
    """Catalogs are read from the .po sources at start: no compiled files to keep in step."""
    out: dict[str, gettext.NullTranslations] = {"en": gettext.NullTranslations()}
    for lang in LANGUAGES:
        po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
        if lang == "en" or not po.exists():
            continue
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        out[lang] = gettext.GNUTranslations(buf)
    return out


class Templates:
    def __init__(self) -> None:
        self._translations = _load_translations()
        self._envs = {lang: self._env(lang) for lang in LANGUAGES}

    def _env(self, lang: str) -> Environment:
        env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(default=True, default_for_string=True),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            enable_async=False,
        )
        translations = self._translations.get(lang, gettext.NullTranslations())
        env.install_gettext_translations(translations, newstyle=True)  # type: ignore[attr-defined]
        env.globals["lang"] = lang
        env.filters["code"] = show_code  # a join code as people read it: "1234 5678"
        # Each feature may bring its own stylesheet; the pages link them all.
        env.globals["stylesheets"] = sorted(
            p.name for p in (ROOT / "static").glob("*.css") if p.name != "samla.css"
        )
        # Small scripts for what HTML cannot do (a countdown, a drag), all deferred.
        env.globals["scripts"] = sorted(p.name for p in (ROOT / "static").glob("*.js"))
        return env

    def gettext(self, lang: str, message: str) -> str:
        return self._translations.get(lang, self._translations["en"]).gettext(message)

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
