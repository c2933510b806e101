"""The authentication and authorisation matrix, for every header form a key may arrive in."""
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

HEADER_FORMS = ["Authorization", "X-API-KEY", "X-Api-Key"]


def hdr(form, key):
    if form == "Authorization":
        return {"Authorization": f"Bearer {key}"}
    return {form: key}


def me(server, headers):
    return requests.get(server.url + "/agentd/v1/me", headers=headers, timeout=10)


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_valid_key_each_header_form(server, form):
    r = me(server, hdr(form, server.admin_key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["kind"] == "org"
    assert body["scopes"] == ["admin"]
    assert body["workspace"]["slug"] == "default"
    assert body["rate_limit"] == 60
    assert server.admin_key not in r.text          # the secret is never echoed
    assert "secret" not in r.text


def test_bearer_scheme_is_case_insensitive(server):
    r = me(server, {"Authorization": f"bearer {server.admin_key}"})
    assert r.status_code == 200


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_missing_key(server, form):
    r = me(server, {})
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert "missing API key" in r.json()["detail"]
    assert "WWW-Authenticate" in r.headers
    r = me(server, {form: ""})
    assert r.status_code == 401


@pytest.mark.parametrize("form", HEADER_FORMS)
@pytest.mark.parametrize("bad", ["nonsense", "fab_short_key", "org_ABCDEFGH_" + "a" * 32,
                                 "xyz_abcdefgh_" + "a" * 32, "org_abcdefgh_" + "a" * 33])
def test_malformed_key(server, form, bad):
    r = me(server, hdr(form, bad))
    assert r.status_code == 401
    assert "malformed" in r.json()["detail"]


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_unknown_key(server, form):
    r = me(server, hdr(form, "org_zzzzzzzz_" + "a" * 32))
    assert r.status_code == 401
    assert r.json()["detail"] == "invalid API key"


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_wrong_secret_for_real_id(server, form):
    k = server.create_key()["key"]
    forged = k[:13] + ("b" if k[13] == "a" else "a") + k[14:]
    assert me(server, hdr(form, forged)).status_code == 401
    # the same id with the other kind prefix is not the same key either
    other = ("fab_" if k.startswith("org_") else "org_") + k[4:]
    assert me(server, hdr(form, other)).status_code == 401
    assert me(server, hdr(form, k)).status_code == 200


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_revoked_key_stops_at_once(server, form):
    created = server.create_key()
    key = created["key"]
    assert me(server, hdr(form, key)).status_code == 200
    r = server.delete(f"/agentd/v1/keys/{created['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["revoked_at"] is not None
    r = me(server, hdr(form, key))
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]
    # revoking again is harmless
    assert server.delete(f"/agentd/v1/keys/{created['id']}").status_code == 200


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_expired_key(server, form):
    expiry = datetime.now(timezone.utc) + timedelta(seconds=3)
    key = server.create_key(expires_at=expiry.isoformat())["key"]
    if datetime.now(timezone.utc) < expiry - timedelta(seconds=0.5):
        assert me(server, hdr(form, key)).status_code == 200
    time.sleep(max(0.0, (expiry - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    r = me(server, hdr(form, key))
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


def test_expiry_in_the_past_is_refused(server):
    r = server.post("/agentd/v1/keys", {"name": "x", "scopes": ["agents:read"],
                                        "expires_at": "2001-01-01T00:00:00Z"})
    assert r.status_code == 400
    assert "expires_at" in r.json()["detail"]
    r = server.post("/agentd/v1/keys", {"name": "x", "scopes": ["agents:read"],
                                        "expires_at": "tomorrow"})
    assert r.status_code == 400


@pytest.mark.parametrize("form", HEADER_FORMS)
def test_missing_scope_is_403_naming_it(server, form):
    key = server.create_key(scopes=["agents:read", "agents:execute"])["key"]
    assert me(server, hdr(form, key)).status_code == 200     # /me needs no scope
    r = requests.get(server.url + "/agentd/v1/keys", headers=hdr(form, key), timeout=10)
    assert r.status_code == 403
    assert "'admin'" in r.json()["detail"]
    r = requests.post(server.url + "/agentd/v1/workspaces", headers=hdr(form, key),
                      json={"slug": "nope"}, timeout=10)
    assert r.status_code == 403


def test_other_workspace_is_404(server):
    r = server.post("/agentd/v1/workspaces", {"slug": "team-a"})
    assert r.status_code == 201, r.text
    r = server.post("/agentd/v1/workspaces", {"slug": "team-b"})
    assert r.status_code == 201, r.text
    a_admin = server.create_key(name="a-admin", scopes=["admin"], workspace="team-a")
    b_admin = server.create_key(name="b-admin", scopes=["admin"], workspace="team-b")
    a_key = server.create_key(key=a_admin["key"], name="a-reader")
    assert a_key["workspace_id"] == a_admin["workspace_id"]
    # team-b's admin cannot see, read or revoke team-a's key: 404, not 403
    r = server.get(f"/agentd/v1/keys/{a_key['id']}", key=b_admin["key"])
    assert r.status_code == 404
    r = server.delete(f"/agentd/v1/keys/{a_key['id']}", key=b_admin["key"])
    assert r.status_code == 404
    assert server.get(f"/agentd/v1/keys/{a_key['id']}", key=a_admin["key"]).status_code == 200
    # nor list its keys, nor create keys in it
    r = server.get("/agentd/v1/keys?workspace=team-a", key=b_admin["key"])
    assert r.status_code == 404
    r = server.post("/agentd/v1/keys", {"name": "x", "scopes": ["admin"], "workspace": "team-a"},
                    key=b_admin["key"])
    assert r.status_code == 404
    ids = [k["id"] for k in server.get("/agentd/v1/keys", key=b_admin["key"]).json()["keys"]]
    assert a_key["id"] not in ids
    # the parent workspace's admin manages both
    assert server.get(f"/agentd/v1/keys/{a_key['id']}").status_code == 200


def test_personal_workspace_gets_personal_keys(server):
    r = server.post("/agentd/v1/workspaces", {"slug": "alice", "kind": "personal"})
    assert r.status_code == 201
    k = server.create_key(workspace="alice", scopes=["agents:read"])
    assert k["key"].startswith("fab_")
    assert k["kind"] == "personal"
    r = server.get("/agentd/v1/me", key=k["key"])
    assert r.status_code == 200
    assert r.json()["workspace"]["kind"] == "personal"
    r = server.post("/agentd/v1/keys", {"name": "x", "scopes": ["admin"], "workspace": "alice",
                                        "kind": "org"})
    assert r.status_code == 400
    assert "kind" in r.json()["detail"]


def test_key_creation_validation(server):
    cases = [
        ({"scopes": ["agents:read"]}, "name"),
        ({"name": "x"}, "scopes"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["agents:fly"]}, "scopes"),
        ({"name": "x", "scopes": "agents:read,bogus"}, "bogus"),
        ({"name": "x", "scopes": ["admin"], "rate_limit": -1}, "rate_limit"),
        ({"name": "x", "scopes": ["admin"], "rate_limit": "10"}, "rate_limit"),
        ({"name": "x", "scopes": ["admin"], "colour": "red"}, "colour"),
        ({"name": "x", "scopes": ["admin"], "project_id": "nope"}, "project_id"),
        ({"name": "x" * 200, "scopes": ["admin"]}, "name"),
    ]
    for body, word in cases:
        r = server.post("/agentd/v1/keys", body)
        assert r.status_code in (400, 404), (body, r.text)
        assert word in r.json()["detail"], (body, r.text)
    r = server.post("/agentd/v1/keys", ["not", "an", "object"])
    assert r.status_code == 400


def test_project_restricted_key(server):
    r = server.post("/agentd/v1/projects", {"name": "web"})
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    k = server.create_key(project_id=pid)
    assert k["project_id"] == pid
    assert server.get("/agentd/v1/me", key=k["key"]).json()["project_id"] == pid
    assert server.post("/agentd/v1/projects", {"name": "web"}).status_code == 409
    assert any(p["id"] == pid for p in server.get("/agentd/v1/projects").json()["projects"])


def test_secret_is_stored_hashed(server):
    k = server.create_key()
    server.stop()
    with open(server.data_dir + "/agentd.db", "rb") as f:
        data = f.read()
    for suffix in ("-wal",):
        try:
            with open(server.data_dir + "/agentd.db" + suffix, "rb") as f:
                data += f.read()
        except OSError:
            pass
    assert k["key"].encode() not in data
    assert k["key"][13:].encode() not in data


def test_update_key(server):
    k = server.create_key(name="ci", scopes=["agents:read"], rate_limit=2, execution_quota=1)
    import requests as rq

    def patch(body, key=None):
        return rq.patch(server.url + f"/agentd/v1/keys/{k['id']}", json=body,
                        headers=server.h(key), timeout=10)
    r = patch({"name": "ci-2", "scopes": ["agents:read", "agents:execute"], "rate_limit": 500,
               "execution_quota": 0, "expires_at": "2099-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "ci-2" and body["scopes"] == ["agents:read", "agents:execute"]
    assert body["rate_limit"] == 500 and body["execution_quota"] is None
    assert body["expires_at"].startswith("2099-01-01") and "key" not in body
    me = server.get("/agentd/v1/me", key=k["key"])      # takes effect at once
    assert me.headers["X-RateLimit-Limit"] == "500" and me.json()["name"] == "ci-2"
    assert patch({"expires_at": None}).json()["expires_at"] is None
    assert patch({"rate_limit": 0}).json()["rate_limit_is_default"] is True
    for bad, word in [({"scopes": []}, "scopes"), ({"scopes": ["nope"]}, "scopes"),
                      ({"rate_limit": -1}, "rate_limit"), ({"expires_at": "2001-01-01T00:00:00Z"},
                                                          "expires_at"),
                      ({"name": ""}, "name"), ({"kind": "personal"}, "kind")]:
        r = patch(bad)
        assert r.status_code == 400 and word in r.json()["detail"], (bad, r.text)
    # another workspace's admin cannot change it
    server.post("/agentd/v1/workspaces", {"slug": "elsewhere"})
    other = server.create_key(workspace="elsewhere", scopes=["admin"])["key"]
    assert patch({"name": "x"}, key=other).status_code == 404
