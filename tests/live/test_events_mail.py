"""An event's mail through a running Samla with SMTP_URL set, against a real SMTP server in
the test process: the confirmation of a registration and the personal invitations."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from live import mail
from tests.conftest import Api, Mailbox, Served
from tests.live.test_events_api import make_event, person, register


async def test_registration_is_confirmed_and_the_selected_invited_by_mail(
    served_factory: Callable[..., Served], mailbox: tuple[Mailbox, int]
) -> None:
    server, port = mailbox
    served = served_factory(smtp_url=f"smtp://127.0.0.1:{port}")
    async with httpx.AsyncClient(base_url=served.base, timeout=30) as client:
        api = Api(served, client)
        event = await make_event(api, access="invited")
        links = {}
        for n in range(4):
            body = {**person(n), "locale": "en" if n == 3 else "sv"}
            r = await register(api, event, body)
            assert r.status_code == 201, r.text
            links[n] = r.json()["withdraw_url"]
        await served.run(mail.drain)
        for n in range(4):
            (text,) = server.to(f"person{n}@example.org")
            assert links[n] in text  # the link to withdraw, whole on its line
            assert ("Samverkansforum 2026" in text) and (f"Person {n}" in text)
        assert "anmälan" in server.to("person0@example.org")[0].lower()
        assert "registration" in server.to("person3@example.org")[0].lower()

        token = await api.organiser_token()
        r = await api.call(
            "POST",
            f"/api/v1/events/{event['id']}/selection",
            token,
            json={"size": 2, "balance_by": ["sektor"], "seed": 1},
        )
        assert r.status_code == 200, r.text
        r = await api.call("POST", f"/api/v1/events/{event['id']}/invitations", token)
        assert r.status_code == 200, r.text
        invitations = r.json()["invitations"]
        assert r.json()["mailed"] == 2 == len(invitations)
        await served.run(mail.drain)
        for invitation in invitations:
            (text,) = server.to(invitation["email"])[1:]  # after the confirmation
            assert invitation["join_url"] in text
        assert len(server.messages) == 6
