"""The public API's session, join and auth parts, from the outside."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import Api


async def test_organiser_creates_a_session_and_a_participant_joins(api: Api) -> None:
    session = await api.make_session(
        "Samverkansforum",
        attributes=[
            {"key": "sektor", "label": "Sektor", "choices": ["Civilsamhälle", "Offentlig sektor"]}
        ],
    )
    assert session["status"] == "open"
    assert session["moderator_token"].startswith("m_")
    assert session["join_url"].endswith(f"/j/{session['code']}")
    joined = await api.join(session, "Anna", {"sektor": "Civilsamhälle"})
    assert joined["session_id"] == session["id"]
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", joined["token"])
    assert r.status_code == 200
    body = r.json()
    assert body["participants"] == 1
    assert body["version"] >= 2
    assert body["rooms"] == [] and body["polls"] == [] and body["boards"] == []


async def test_unknown_code_is_not_found(api: Api) -> None:
    r = await api.call("POST", "/api/v1/join", json={"code": "000000x"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


async def test_a_name_of_ten_thousand_characters_is_refused_and_nothing_is_stored(api: Api) -> None:
    session = await api.make_session()
    r = await api.call("POST", "/api/v1/join", json={"code": session["code"], "name": "x" * 10_000})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid"
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", session["moderator_token"])
    assert r.json()["participants"] == 0


async def test_an_attribute_choice_not_offered_is_refused(api: Api) -> None:
    session = await api.make_session(
        attributes=[{"key": "niva", "label": "Nivå", "choices": ["Lokal"]}]
    )
    r = await api.call(
        "POST", "/api/v1/join", json={"code": session["code"], "attributes": {"niva": "Global"}}
    )
    assert r.status_code == 422
    r = await api.call(
        "POST", "/api/v1/join", json={"code": session["code"], "attributes": {"age": "40"}}
    )
    assert r.status_code == 422


async def test_a_participant_token_on_another_session_is_forbidden(api: Api) -> None:
    one, two = await api.make_session("One"), await api.make_session("Two")
    joined = await api.join(one)
    r = await api.call("GET", f"/api/v1/sessions/{two['id']}", joined["token"])
    assert r.status_code == 403
    assert r.json()["error"]["code"] == "forbidden"
    assert "Two" not in r.text


async def test_a_participant_token_on_an_organiser_endpoint_is_forbidden(api: Api) -> None:
    session = await api.make_session()
    joined = await api.join(session)
    r = await api.call("POST", "/api/v1/sessions", joined["token"], json={"title": "Mine"})
    assert r.status_code == 403
    r = await api.call("DELETE", f"/api/v1/sessions/{session['id']}", joined["token"])
    assert r.status_code == 403
    r = await api.call("POST", f"/api/v1/sessions/{session['id']}/close", joined["token"])
    assert r.status_code == 403


async def test_no_token_is_unauthorized_and_unknown_ids_are_not_found(api: Api) -> None:
    session = await api.make_session()
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    r = await api.call("GET", "/api/v1/sessions/nope", session["moderator_token"])
    assert r.status_code == 404


async def test_bad_json_and_oversized_bodies_get_the_error_shape(api: Api) -> None:
    r = await api.call("POST", "/api/v1/join", content=b"{not json")
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
    r = await api.call("POST", "/api/v1/join", content=b"[1, 2]")
    assert r.status_code == 422
    r = await api.call("POST", "/api/v1/join", content=b'{"code": "' + b"1" * 70_000 + b'"}')
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"


async def test_closing_a_session_refuses_later_writes(api: Api) -> None:
    session = await api.make_session()
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/close", session["moderator_token"]
    )
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = await api.call("POST", "/api/v1/join", json={"code": session["code"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_closed"
    r = await api.call(
        "POST", f"/api/v1/sessions/{session['id']}/close", session["moderator_token"]
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "session_closed"


async def test_deleting_a_session_removes_it_and_its_participants(api: Api) -> None:
    session = await api.make_session()
    joined = await api.join(session, "Bo")
    token = await api.organiser_token()
    r = await api.call("DELETE", f"/api/v1/sessions/{session['id']}", token)
    assert r.status_code == 204
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", token)
    assert r.status_code == 404
    r = await api.call("GET", f"/api/v1/sessions/{session['id']}", joined["token"])
    assert r.status_code == 401  # the participant went with the session
    from sqlalchemy import text

    async def count() -> int:
        async with api.served.samla.store.read() as db:
            return int(await db.scalar(text("SELECT count(*) FROM participant")) or 0)

    assert await api.served.run(count) == 0


async def test_a_revoked_api_token_stops_working(api: Api) -> None:
    token = await api.organiser_token()
    r = await api.call("DELETE", "/api/v1/auth/token", token)
    assert r.status_code == 204
    r = await api.call("GET", "/api/v1/sessions", token)
    assert r.status_code == 401


async def test_wrong_password_is_unauthorized(api: Api) -> None:
    await api.organiser_token()
    r = await api.call(
        "POST",
        "/api/v1/auth/token",
        json={"email": "organiser@samla.test", "password": "wrong one!"},
    )
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"


async def test_openapi_lists_the_contract(api: Api) -> None:
    r = await api.call("GET", "/api/v1/openapi.json")
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.1")
    for path in [
        "/api/v1/auth/token",
        "/api/v1/sessions",
        "/api/v1/sessions/{sid}",
        "/api/v1/sessions/{sid}/close",
        "/api/v1/join",
        "/api/v1/sessions/{sid}/events",
    ]:
        assert path in doc["paths"], path
    assert "delete" in doc["paths"]["/api/v1/sessions/{sid}"]


async def test_bearer_calls_get_the_same_errors_and_headers_as_any_other(api: Api) -> None:
    """Bearer clients take a shorter way to the API (past the browser's cookie layer): its
    answers are the same, errors in the API's shape and the security headers included."""
    token = await api.organiser_token()
    for sent in (token, None):
        missing = await api.call("GET", "/api/v1/nothing-here", sent)
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "not_found"
        wrong = await api.call("DELETE", "/api/v1/openapi.json", sent)
        assert wrong.status_code == 405
        assert wrong.json()["error"]["code"] == "invalid"
        for answer in (missing, wrong):
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    made = await api.call("POST", "/api/v1/sessions", token, json={"title": "Kort väg"})
    assert made.status_code == 201
    assert made.json()["join_url"].endswith(f"/j/{made.json()['code']}")
    assert "set-cookie" not in made.headers  # no cookie for an API client


async def test_a_body_of_the_wrong_shape_is_refused_naming_the_field(api: Api) -> None:
    token = await api.organiser_token()
    wrong = {"title": "Form", "attributes": [{"key": "sektor", "choices": "Ideell"}]}
    r = await api.call("POST", "/api/v1/sessions", token, json=wrong)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid"
    assert r.json()["error"]["message"].startswith("attributes.0.choices:")
    r = await api.call("POST", "/api/v1/join", json={"code": 12345678})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("code:")
    r = await api.call("POST", "/api/v1/auth/token", json={"email": "organiser@samla.test"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("password:")


async def test_an_attribute_without_a_label_is_labelled_by_its_key(api: Api) -> None:
    session = await api.make_session(attributes=[{"key": "niva", "choices": ["Lokal"]}])
    assert session["attributes"] == [{"key": "niva", "label": "niva", "choices": ["Lokal"]}]


async def test_the_openapi_document_describes_bodies_errors_and_the_event_stream(api: Api) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    assert set(schemas["SessionBody"]["required"]) == {"title"}
    assert schemas["AttributeBody"]["properties"]["choices"]["type"] == "array"
    assert "invalid" in schemas["Error"]["properties"]["error"]["properties"]["code"]["enum"]
    events = doc["paths"]["/api/v1/sessions/{sid}/events"]["get"]
    assert "snapshot" in events["description"]
    for methods in doc["paths"].values():
        for op in methods.values():
            assert op["summary"] and op["description"].startswith("Who may call it: ")
            assert op["operationId"]


async def test_the_api_page_shows_every_path_of_the_document(api: Api) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json")).json()
    r = await api.call("GET", "/api")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<h1>" in page and "<table>" in page and 'scope="col"' in page
    for path, methods in doc["paths"].items():
        for method in methods:
            assert f"<code>{method.upper()} {path}</code>" in page, (method, path)
    for name in doc["components"]["schemas"]:
        assert f'id="schema-{name}"' in page, name


async def test_renaming_has_no_endpoint_but_its_message_is_validated_the_same_way(
    api: Api, stream: Callable[..., Any]
) -> None:
    doc = (await api.call("GET", "/api/v1/openapi.json")).json()
    assert not any("rename" in path for path in doc["paths"])
    session = await api.make_session()
    joined = await api.join(session)
    async with stream(session["id"], joined["token"]) as s:
        await s.next()
        await s.send({"type": "rename", "name": 42})
        frame = await s.until(lambda f: f["type"] == "error")
        assert frame["error"]["code"] == "invalid"
        assert frame["error"]["message"].startswith("name:")
        await s.send({"type": "rename", "name": "Anna"})
        assert (await s.until(lambda f: f["type"] == "participant.renamed"))["name"] == "Anna"
