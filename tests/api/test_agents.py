"""Agents in the native API: definitions, validation, revisions, deploy, archive, scopes."""
import pytest

from conftest import create_agent, run


def test_create_get_list(engine):
    a = create_agent(engine, name="Sales Report Analyst", model="fake/echo",
                     description="Analyzes sales data", system_prompt="Be brief.",
                     temperature=0.2, max_tokens=300)
    assert a["slug"] == "sales-report-analyst"
    assert a["revision"] == 1 and a["latest_revision"] == 1
    assert a["type"] == "llm" and a["model"] == "fake/echo"
    assert a["execution_mode"] == "single_turn" and a["visibility"] == "private"
    assert a["exposed"] is False and a["status"] == "active"
    assert a["limits"]["max_steps"] >= 1
    for ref in (a["id"], a["slug"]):
        r = engine.get(f"/agentd/v1/agents/{ref}")
        assert r.status_code == 200 and r.json()["id"] == a["id"]
    create_agent(engine, name="Support Bot", model="fake/echo", description="tickets")
    r = engine.get("/agentd/v1/agents?search=sales")
    assert [x["slug"] for x in r.json()["agents"]] == ["sales-report-analyst"]
    r = engine.get("/agentd/v1/agents?limit=1").json()
    assert len(r["agents"]) == 1 and r["total_count"] == 2 and r["has_more"] is True
    r = engine.get("/agentd/v1/agents?limit=1&offset=1").json()
    assert r["has_more"] is False


@pytest.mark.parametrize("body,word", [
    ({"model": "fake/echo"}, "name"),
    ({"name": "x"}, "model"),
    ({"name": "x", "model": "gpt-4o"}, "provider/model"),
    ({"name": "x", "model": "nowhere/gpt"}, "no provider 'nowhere'"),
    ({"name": "x", "model": "fake/echo", "temperature": 3}, "temperature"),
    ({"name": "x", "model": "fake/echo", "max_tokens": 0}, "max_tokens"),
    ({"name": "x", "model": "fake/echo", "execution_mode": "forever"}, "execution_mode"),
    ({"name": "x", "model": "fake/echo", "flavour": "mint"}, "flavour"),
    ({"name": "x", "model": "fake/echo", "tools": [{"type": "shell", "name": "rm"}]}, "tools[0].type"),
    ({"name": "x", "model": "fake/echo", "tools": [{"type": "http", "name": "t"}]}, "tools[0].url"),
    ({"name": "x", "model": "fake/echo", "tools": [{"type": "agent", "name": "t", "agent": "ghost"}]},
     "no agent 'ghost'"),
    ({"name": "x", "model": "fake/echo", "input_schema": {"type": "strnig"}}, "input_schema.type"),
    ({"name": "x", "model": "fake/echo", "input_schema": {"properties": {"a": {"minimum": "1"}}}},
     "input_schema.properties.a.minimum"),
    ({"name": "x", "model": "fake/echo", "limits": {"max_steps": 1000}}, "limits.max_steps"),
    ({"name": "x", "type": "custom", "command": "rm -rf /"}, "command"),
    ({"name": "x", "slug": "Bad Slug", "model": "fake/echo"}, "slug"),
])
def test_invalid_definitions_name_the_field(engine, body, word):
    r = engine.post("/agentd/v1/agents", body)
    assert r.status_code == 422, r.text
    assert word in r.json()["detail"], r.text


def test_duplicate_slug_is_409(engine):
    create_agent(engine, name="Dup", model="fake/echo")
    r = engine.post("/agentd/v1/agents", {"name": "Dup", "model": "fake/echo"})
    assert r.status_code == 409


def test_revisions_and_deploy(engine):
    a = create_agent(engine, name="Rev", model="fake/echo", system_prompt="v1")
    r = engine_patch(engine, a["id"], {"system_prompt": "v2"})
    assert r.status_code == 200, r.text
    assert r.json()["revision"] == 2 and r.json()["system_prompt"] == "v2"
    r = engine_patch(engine, a["id"], {"system_prompt": "v3", "deploy": False})
    assert r.json()["revision"] == 2 and r.json()["latest_revision"] == 3
    assert r.json()["system_prompt"] == "v2"        # the deployed config did not change
    revs = engine.get(f"/agentd/v1/agents/{a['id']}/revisions").json()["revisions"]
    assert [x["revision"] for x in revs] == [3, 2, 1]
    assert [x["deployed"] for x in revs] == [False, True, False]
    assert revs[2]["config"]["system_prompt"] == "v1"
    r = engine.post(f"/agentd/v1/agents/{a['id']}/deploy", {"revision": 1})
    assert r.status_code == 200 and r.json()["revision"] == 1
    assert engine.get(f"/agentd/v1/agents/{a['id']}").json()["system_prompt"] == "v1"
    r = engine.post(f"/agentd/v1/agents/{a['id']}/deploy", {"revision": 9})
    assert r.status_code == 404
    # executions pin the revision they ran; an explicit revision runs that one
    e = run(engine, a["id"]).json()
    assert e["revision"] == 1
    e = run(engine, a["id"], {"input": {"message": "x"}, "revision": 3}).json()
    assert e["revision"] == 3
    # the id and slug stay stable across edits
    assert engine.get("/agentd/v1/agents/rev").json()["id"] == a["id"]


def engine_patch(engine, ref, body):
    import requests
    return requests.patch(engine.url + f"/agentd/v1/agents/{ref}", json=body,
                          headers=engine.h(), timeout=10)


def test_expose_toggle_makes_no_revision(engine):
    a = create_agent(engine, name="Exp", model="fake/echo")
    r = engine_patch(engine, a["id"], {"exposed": True})
    assert r.status_code == 200 and r.json()["exposed"] is True
    assert r.json()["latest_revision"] == 1
    r = engine_patch(engine, a["id"], {"exposed": "yes"})
    assert r.status_code == 400


def test_archive(engine):
    a = create_agent(engine, name="Old", model="fake/echo")
    r = engine.delete(f"/agentd/v1/agents/{a['id']}")
    assert r.status_code == 200 and r.json()["status"] == "archived"
    assert all(x["id"] != a["id"] for x in engine.get("/agentd/v1/agents").json()["agents"])
    listed = engine.get("/agentd/v1/agents?include_archived=true").json()["agents"]
    assert any(x["id"] == a["id"] for x in listed)
    r = run(engine, a["id"])
    assert r.status_code == 409 and "archived" in r.json()["detail"]


def test_scopes_and_workspaces(engine):
    reader = engine.create_key(scopes=["agents:read"])["key"]
    r = engine.post("/agentd/v1/agents", {"name": "x", "model": "fake/echo"}, key=reader)
    assert r.status_code == 403 and "agents:write" in r.json()["detail"]
    a = create_agent(engine, name="Mine", model="fake/echo")
    assert engine.get(f"/agentd/v1/agents/{a['id']}", key=reader).status_code == 200
    r = run(engine, a["id"], key=reader)
    assert r.status_code == 403 and "agents:execute" in r.json()["detail"]
    engine.post("/agentd/v1/workspaces", {"slug": "other"})
    other = engine.create_key(workspace="other", scopes=["admin"])["key"]
    assert engine.get(f"/agentd/v1/agents/{a['id']}", key=other).status_code == 404
    assert run(engine, a["id"], key=other).status_code == 404
