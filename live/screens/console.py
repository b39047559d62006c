"""The console's live panels."""

from __future__ import annotations

from collections.abc import Mapping

from live.screens import FormReader, Panel, Summary

PANELS: tuple[Panel, ...] = ()
SUMMARIES: Mapping[str, Summary] = {}
# action type -> the panel re-rendered for its sender
REPLIES: Mapping[str, str] = {}
FORMS: Mapping[str, FormReader] = {}
