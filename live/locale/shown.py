"""Messages people read that the code builds rather than writes out: so that `make messages`
finds them (babel.cfg reads live/**.py) and the catalog translates them.

- a refusal made by a helper (`not_found("poll")` says "No such poll."),
- a message kept in a constant (the quotas', the joining gate's, the actions' role checks),
- a refusal with values in it, written with %(name)s: `Templates.gettext` (and `_()` in
  templates) finds the entry whose fixed words match and puts the values into the Swedish,
  each value translated too when the catalog holds it ("The question" → "Frågan"),
- the values such refusals name ("The question is empty."), the archive's words, and the
  names Samla gives by default and shows per viewer (`label` in live/templating.py).

Nothing imports this module; `tests/live/test_i18n.py` checks that it covers what the code
builds."""

from __future__ import annotations


def _(message: str) -> str:
    return message


NOT_FOUND = (
    _("No such session."),
    _("No such session with that code."),
    _("No such participant."),
    _("No such room."),
    _("No such room in this session."),
    _("No such table."),
    _("No such table in this session."),
    _("No such poll."),
    _("No such poll in that session."),
    _("No such answer in this poll."),
    _("No such question."),
    _("No such board."),
    _("No such note."),
    _("No such dot vote."),
    _("No such stage link."),
    _("No such event."),
    _("No such organiser account with that email."),
    _("No such organiser account."),
)

CONSTANTS = (
    _("You may not do that here."),
    _("Only participants of this session may do that; join it first."),
    _("Only this session's moderators may do that."),
    _("You are sending messages too fast; wait a moment."),
    _("Something went wrong; please try again."),
    _("Something went wrong on our side; please try again."),
    _("This page does not exist."),
    _("Nothing is at that address."),
    _("You are answering too fast; wait a moment."),
    _("You are asking very fast; wait a moment and try again."),
    _("You are posting notes very fast; wait a moment and try again."),
    _("You are upvoting very fast; wait a moment."),
    _("You are asking for the call very often; wait a moment and try again."),
    _("Too many people are joining from your network right now; try again in a minute."),
    _("Too many people are joining this session right now; try again in a minute."),
    _("Too many wrong codes were tried from your network; wait a minute and try again."),
    _("Too many registrations have come from your network just now; try again in a few minutes."),
    _("Someone withdrew while the panel was drawn; run the selection again."),
    _("You have already answered; this poll does not allow changing it."),
    _(
        "You have already answered; it was given before the poll was closed and can no "
        "longer be told apart from others."
    ),
    _("This poll belongs to the plenary; only the people there can answer it."),
    _("This poll belongs to another breakout room; only the people there can answer it."),
    _("This poll has not been opened yet; answers are not taken now."),
    _("This poll is closed; answers are not taken now."),
    _("This poll's results are shown once it closes."),
    _("This poll's results are shown to the moderator only."),
    _("The organisation is shown on public pages: give its name, not an email address."),
    # The minutes' refusals kept in constants (live/minutes).
    _("This session keeps no plenary minutes: a moderator switches them on."),
    _("Too fast for the minutes; reconnect shortly."),
    _("The minutes could not be saved just now; reconnect."),
)

# Refusals with values in them (the value's name says what it is).
WITH_VALUES = (
    _("%(field)s must be an ISO 8601 time, such as 2026-03-03T09:00:00Z."),
    _("%(field)s cannot be changed."),
    _("Answer every question: %(key)s is missing."),
    _("balance_by names at most %(most)s attributes, each once."),
    _(
        "%(rooms)s rooms for %(people)s participants would leave rooms empty; open at most "
        "%(most)s rooms, or prepare them and open them once people have joined."
    ),
    _("%(what)s must be a list of at most %(count)s texts, one per room."),
    _("Balanced rooms need balance_by, one of this session's attributes (%(keys)s)."),
    _("%(room)s is full (%(capacity)s people); choose another room."),
    _("%(what)s must be a whole number from %(low)s to %(high)s."),
    _("%(what)s must be a whole number."),
    _("The scale must go up from min to max, within ±%(limit)s, with at most %(most)s values."),
    _("value must be from %(low)s to %(high)s."),
    _("Choose from 1 to %(most)s options."),
    _("choices lists at most %(most)s options."),
    _("words must be a list of 1 to %(most)s entries."),
    _("A %(kind)s poll needs between 2 and %(most)s options."),
    _("A %(kind)s poll has no options."),
    _("max_choices must be a whole number from 1 to %(most)s."),
    _("At most %(most)s words can be hidden."),
    _("Choose from 1 to %(most)s polls to reuse."),
    _("You have given all your %(dots)s dots."),
    _("dots must be a whole number from 1 to %(most)s."),
    _("columns must be a list of 1 to %(most)s column titles."),
    _("A card has no field %(field)s."),
    _("The password must be %(low)s to %(high)s characters."),
    _("An organiser with %(address)s already exists."),
    _("This session does not ask for %(key)s."),
    _("%(choice)s is not one of the choices for %(key)s."),
    _("Attribute %(key)s needs between 1 and %(most)s choices."),
    _("Attribute %(key)s has the same choice twice."),
    _("%(what)s must be text."),
    _("%(what)s shows nothing: use at least one letter, number or emoji."),
    _("%(what)s is empty."),
    _("%(what)s is too short."),
    _("%(what)s is %(length)s characters; at most %(most)s are allowed."),
    _("The request body is over %(size)s KB."),
    _("%(what)s is not valid JSON."),
    _("%(what)s must be a JSON object."),
    _("%(what)s is nested too deeply."),
)

# An event's selection: its refusals (`rooms/events/selection.py`), the registrations page's
# own (`live/pages/registrations.py`), and the export's words (`rooms/events/exports.py`).
EVENTS = (
    _("balance_by: %(key)s is not one of the event's attributes (%(known)s)."),
    _("balance_by names %(key)s twice."),
    _("quotas: %(key)s is not one of the event's attributes."),
    _("quotas.%(key)s must be an object of the form {choice: {min, max}}."),
    _("quotas: %(choice)s is not one of the choices for %(key)s."),
    _("%(where)s must be an object with min, max or both."),
    _("%(where)s: min (%(low)s) is more than max (%(high)s)."),
    _("quotas: %(quota)s cannot be met: only %(count)s applied with that choice."),
    _("quotas: the minimums for %(key)s add up to %(total)s, more than the %(size)s places."),
    _("quotas: the maximums for %(key)s leave only %(room)s of the %(size)s places to fill."),
    _("quotas: %(quotas)s cannot all be met together by these applicants."),
    _("The size must be a whole number, such as 25."),
    _("The seed must be a whole number, or empty."),
    _("A quota must be a whole number."),
    _("Choose at least one question to balance."),
    _("Waiting list place"),
    _("Registered at"),
    _("Waitlisted"),
)

# The event report: the editor's and the cards' refusals, the splits' (`rooms/polls/splits.py`),
# and the archive's words built in code (`rooms/archive_formats.py`, `rooms/events/`).
REPORT = (
    _("kind must be one of: %(kinds)s."),
    _("kinds must be a list of at most %(most)s names."),
    _("A kind in kinds"),
    _("kinds names %(kind)s twice."),
    _("The card's kind %(kind)s is not one of that column's kinds."),
    _("Someone else saved the report meanwhile; your text is kept here, reload to see theirs."),
    _("by: %(key)s is not one of this session's questions (%(asked)s)."),
    _("Event"),
    _("In cooperation with"),
    _("session"),
    _("Column"),
    _("Text"),
    _("Author"),
    _("Collected from"),
    _("Item"),
    _("Label"),
    _("Other links"),
    # The splits in every report format (`rooms/archive_splits.py`: SPLIT_HEADER, PROTECTS).
    _("Splits"),
    _("Source"),
    _("Group"),
    _("People"),
    _("Note"),
    _("Upvotes split by"),
    _("hidden to protect a small group"),
    # The shared minutes in every report format (`rooms/archive_minutes.py`).
    _("Minutes"),
)

# What those refusals name.
NAMED = (
    _("The question"),
    _("The name"),
    _("The note"),
    _("The title"),
    _("The message"),
    _("The email address"),
    _("The organisation"),
    _("The description"),
    _("The board title"),
    _("An option"),
    _("A word"),
    _("A room name"),
    _("A place"),
    _("A column title"),
    _("A choice"),
    _("That message"),
    _("The request body"),
    _("The passage"),
)


# The archive's words (`rooms/archive_formats.py` translates them through its `t`).
ARCHIVE = (
    _("%(count)s answers"),
    _("%(count)s upvotes"),
    _("%(count)s dots"),
    _("%(count)s voters"),
    _("from %(room)s"),
    _("Asked by"),
    _("Session"),
    _("answered"),
    _("not answered"),
    _("Single choice"),
    _("Multiple choice"),
    _("Scale"),
    _("Word cloud"),
    _("Open answers"),
    _("Ranking"),
    _("Notes"),
    _("Polls"),
    _("Questions"),
    _("yes"),
    _("no"),
    _("open"),
    _("closed"),
    _("draft"),
)


# The organiser page's downloads (`live/pages/organiser.py`, ARCHIVE_LINKS).
DOWNLOADS = (
    _("Report (HTML)"),
    _("CSV: notes"),
    _("CSV: polls"),
    _("CSV: questions"),
    _("Everything (zip)"),
)


# Names Samla gives by default, shown in each viewer's language (`label`); a context of their
# own keeps them apart from the same words elsewhere ("Start" on a button).
def pgettext(context: str, message: str) -> str:
    return message


DEFAULT_NAMES = (
    pgettext("default name", "Room %(n)s"),
    pgettext("default name", "Good examples / Challenges / Ideas"),
    pgettext("default name", "Good examples"),
    pgettext("default name", "Challenges"),
    pgettext("default name", "Ideas"),
    pgettext("default name", "Start / Establish / Evaluate"),
    pgettext("default name", "Start"),
    pgettext("default name", "Establish"),
    pgettext("default name", "Evaluate"),
    pgettext("default name", "Ways of working and methods"),
    pgettext("default name", "Platforms and networks"),
    pgettext("default name", "Reading tips"),
    pgettext("default name", "Notes"),
)
