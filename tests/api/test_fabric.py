"""The Fabric External Agent API (/api/v1/external), bullet by bullet."""
import concurrent.futures
import io
import json
import struct
import time
import zlib

import pytest
import requests

from conftest import create_agent, parse_sse as parse

BASE = "/api/v1/external"


def png_bytes():
    raw = b"\x00\xff\x00\x00"
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class Fabric:
    def __init__(self, server, key):
        self.s, self.key = server, key

    def h(self, **extra):
        h = {"Authorization": f"Bearer {self.key}"}
        h.update(extra)
        return h

    def get(self, path, **kw):
        return requests.get(self.s.url + BASE + path, headers=kw.pop("headers", self.h()),
                            timeout=20, **kw)

    def post(self, path, body=None, **kw):
        return requests.post(self.s.url + BASE + path, json=body,
                             headers=kw.pop("headers", self.h()), timeout=20, **kw)

    def wait(self, exec_id, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = self.get(f"/executions/{exec_id}").json()
            if r["status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                return r
            time.sleep(0.05)
        raise AssertionError(r)


@pytest.fixture
def fab(engine):
    key = engine.create_key(scopes=["agents:read", "agents:execute", "agents:stream"])["key"]
    return Fabric(engine, key)


def exposed(engine, **kw):
    kw.setdefault("model", "fake/echo")
    kw.setdefault("exposed", True)
    return create_agent(engine, **kw)


def test_list_only_exposed_active(engine, fab):
    a = exposed(engine, name="Sales Report Analyst", description="Analyzes sales data",
                template={"slug": "data-analyst", "displayName": "Data Analyst",
                          "category": "DATA"})
    hidden = create_agent(engine, name="Hidden", model="fake/echo")
    gone = exposed(engine, name="Gone")
    engine.delete(f"/agentd/v1/agents/{gone['id']}")
    r = fab.get("/agents")
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Limit"] and r.headers["X-RateLimit-Remaining"]
    lst = r.json()
    assert isinstance(lst, list) and [x["id"] for x in lst] == [a["id"]]
    item = lst[0]
    assert item == {"id": a["id"], "sId": "sales-report-analyst", "name": "Sales Report Analyst",
                    "description": "Analyzes sales data", "executionMode": "single_turn",
                    "template": {"slug": "data-analyst", "displayName": "Data Analyst",
                                 "category": "DATA"}}
    for ref in (hidden["id"], gone["id"], "nope"):
        r = fab.get(f"/agents/{ref}")
        assert r.status_code == 404 and "not exposed" in r.json()["error"]
        r = fab.post(f"/agents/{ref}/execute", {"input": {"message": "x"}})
        assert r.status_code == 404


def test_agent_details(engine, fab):
    a = exposed(engine, name="With Schema", input_schema={
        "type": "object", "properties": {"query": {"type": "string"}}})
    b = exposed(engine, name="No Schema")
    r = fab.get(f"/agents/{a['id']}").json()
    assert r == {"id": a["id"], "sId": "with-schema", "name": "With Schema",
                 "executionMode": "single_turn", "version": 1,
                 "inputSchema": {"type": "object", "properties": {"query": {"type": "string"}}}}
    r = fab.get(f"/agents/{b['slug']}").json()
    assert r["inputSchema"]["properties"]["message"]["type"] == "string"
    import requests as rq
    rq.patch(engine.url + f"/agentd/v1/agents/{b['id']}", json={"system_prompt": "v2"},
             headers=engine.h(), timeout=10)
    assert fab.get(f"/agents/{b['id']}").json()["version"] == 2    # the URL stays stable


def test_execute_poll_complete(engine, fab):
    a = exposed(engine)
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "Summarize the Q4 sales report"}})
    assert r.status_code == 202
    body = r.json()
    assert set(body) == {"executionId", "status", "deploymentId", "workflowId"}
    assert body["status"] in ("PENDING", "RUNNING")
    assert body["workflowId"] == "deployment-exec-" + body["executionId"]
    assert body["deploymentId"].startswith("dep_")
    done = fab.wait(body["executionId"])
    assert done["status"] == "COMPLETED"
    assert done["output"] == {"response": "echo: Summarize the Q4 sales report"}
    assert done["startedAt"] and done["completedAt"] and "error" not in done
    assert done["id"] == body["executionId"]


def test_failed_execution_has_error(engine, fab):
    a = exposed(engine, model="fake/400")
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}})
    done = fab.wait(r.json()["executionId"])
    assert done["status"] == "FAILED" and "refused" in done["error"] and done["output"] is None


@pytest.mark.parametrize("body,word", [
    ({}, "input"), ({"input": {}}, "input"), ({"input": "text"}, "input"),
    ({"input": {"message": "x"}, "priority": "URGENT"}, "priority"),
    ({"input": {"message": "x"}, "stream": "yes"}, "stream"),
    ({"input": {"message": "x"}, "idempotencyKey": 5}, "idempotencyKey"),
])
def test_execute_bad_requests(engine, fab, body, word):
    a = exposed(engine)
    r = fab.post(f"/agents/{a['id']}/execute", body)
    assert r.status_code == 400 and word in r.json()["error"], r.text
    assert r.headers["Content-Type"] == "application/json"


def test_priorities_accepted(engine, fab):
    a = exposed(engine)
    for p in ("LOW", "NORMAL", "HIGH", "CRITICAL"):
        r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": p}, "priority": p})
        assert r.status_code == 202
        e = engine.get(f"/agentd/v1/executions/{r.json()['executionId']}").json()
        assert e["priority"] == p


def test_scopes(engine):
    a = exposed(engine)
    read_only = Fabric(engine, engine.create_key(scopes=["agents:read"])["key"])
    no_stream = Fabric(engine, engine.create_key(scopes=["agents:read", "agents:execute"])["key"])
    nothing = Fabric(engine, engine.create_key(scopes=["approvals:write"])["key"])
    assert nothing.get("/agents").status_code == 403
    assert "agents:read" in nothing.get("/agents").json()["error"]
    r = read_only.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}})
    assert r.status_code == 403 and "agents:execute" in r.json()["error"]
    r = no_stream.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}, "stream": True})
    assert r.status_code == 403 and "agents:stream" in r.json()["error"]
    r = no_stream.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}})
    assert r.status_code == 202
    r = no_stream.get(f"/executions/{r.json()['executionId']}/stream")
    assert r.status_code == 403 and "agents:stream" in r.json()["error"]
    r = requests.get(engine.url + BASE + "/agents", timeout=10)
    assert r.status_code == 401 and "error" in r.json()


def test_personal_and_org_keys_see_their_own(engine):
    org_agent = exposed(engine, name="Org Agent")
    engine.post("/agentd/v1/workspaces", {"slug": "alice", "kind": "personal"})
    alice_admin = engine.create_key(workspace="alice", scopes=["admin"])["key"]
    personal_agent = exposed(engine, key=alice_admin, name="Alice Agent")
    fab_key = engine.create_key(workspace="alice", scopes=["agents:read", "agents:execute"],
                                key=alice_admin)["key"]
    org_key = engine.create_key(scopes=["agents:read", "agents:execute"])["key"]
    assert fab_key.startswith("fab_") and org_key.startswith("org_")
    personal, org = Fabric(engine, fab_key), Fabric(engine, org_key)
    assert [x["id"] for x in personal.get("/agents").json()] == [personal_agent["id"]]
    assert [x["id"] for x in org.get("/agents").json()] == [org_agent["id"]]
    # a personal key for an org agent, and the reverse: 404
    assert personal.get(f"/agents/{org_agent['id']}").status_code == 404
    assert org.get(f"/agents/{personal_agent['id']}").status_code == 404
    assert personal.post(f"/agents/{org_agent['id']}/execute",
                         {"input": {"message": "x"}}).status_code == 404
    ex = org.post(f"/agents/{org_agent['id']}/execute", {"input": {"message": "x"}}).json()
    assert personal.get(f"/executions/{ex['executionId']}").status_code == 404


def test_idempotency_body_header_and_concurrent(engine, fab):
    a = exposed(engine)
    url = f"/agents/{a['id']}/execute"
    r1 = fab.post(url, {"input": {"message": "Process order 12345"}, "idempotencyKey": "order-1"})
    r2 = fab.post(url, {"input": {"message": "Process order 12345"}, "idempotencyKey": "order-1"})
    assert r1.status_code == 202 and r2.status_code == 200
    assert r1.json()["executionId"] == r2.json()["executionId"]
    h = fab.h(**{"X-Idempotency-Key": "order-12345-retry-1"})
    r3 = fab.post(url, {"input": {"message": "Process order 12345"}}, headers=h)
    r4 = fab.post(url, {"input": {"message": "Process order 12345"}}, headers=h)
    assert r3.status_code == 202 and r4.status_code == 200
    assert r3.json()["executionId"] == r4.json()["executionId"] != r1.json()["executionId"]
    r5 = fab.post(url, {"input": {"message": "another order"}}, headers=h)
    assert r5.status_code == 409

    def one(_):
        return fab.post(url, {"input": {"message": "burst"}, "idempotencyKey": "burst"})
    with concurrent.futures.ThreadPoolExecutor(30) as pool:
        rs = list(pool.map(one, range(30)))
    assert {r.status_code for r in rs} <= {200, 202}
    assert len({r.json()["executionId"] for r in rs}) == 1
    assert sum(r.status_code == 202 for r in rs) == 1


def test_stream_true_and_stream_endpoint_resume(engine, fab):
    a = exposed(engine, type="custom", command="stream", model=None)
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "w1 w2 w3 w4"}, "stream": True})
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
    evs = parse(r.text)
    names = [e["event"] for e in evs]
    assert names[0] == "status" and evs[0]["data"]["status"] == "PENDING"
    assert "delta" in names and "progress" in names and names[-1] == "result"
    assert "".join(e["data"]["text"] for e in evs if e["event"] == "delta") == "w1 w2 w3 w4"
    result = evs[-1]["data"]
    exec_id = result["executionId"]
    assert result["status"] == "COMPLETED" and result["output"]["response"] == "W1 W2 W3 W4"
    # the stream endpoint replays, and resumes after Last-Event-ID
    full = parse(fab.get(f"/executions/{exec_id}/stream").text)
    assert [e["id"] for e in full] == [e["id"] for e in evs]
    k = full[3]["id"]
    rest = parse(fab.get(f"/executions/{exec_id}/stream",
                         headers=fab.h(**{"Last-Event-ID": str(k)})).text)
    assert [e["id"] for e in rest] == [e["id"] for e in full if e["id"] > k]


def upload(fab, data, name="screenshot.png", ctype="image/png"):
    return requests.post(fab.s.url + BASE + "/agents/files", headers=fab.h(),
                         files={"file": (name, io.BytesIO(data), ctype)}, timeout=20)


def test_upload_and_images_reach_the_model(engine, fab):
    r = upload(fab, png_bytes())
    assert r.status_code == 200, r.text
    f = r.json()
    assert set(f) == {"fileId", "mimeType", "name"}
    assert f["fileId"].startswith("file_") and f["mimeType"] == "image/png"
    assert f["name"] == "screenshot.png"
    gif = upload(fab, b"GIF89a" + b"\x00" * 30, name="a.gif", ctype="application/octet-stream").json()
    assert gif["mimeType"] == "image/gif"       # by content, not by the declared type
    for model in ("fake/images", "fakean/images", "fakeplain/images"):
        a = exposed(engine, model=model)
        r = fab.post(f"/agents/{a['id']}/execute", {
            "input": {"message": "What's in this screenshot?"},
            "images": [{"fileId": f["fileId"], "mimeType": "image/png", "name": "screenshot.png"},
                       {"fileId": gif["fileId"]}]})
        assert r.status_code == 202, r.text
        done = fab.wait(r.json()["executionId"])
        assert done["output"]["response"] == "images: 2 image/png image/gif", (model, done)


def test_image_rules(engine, fab):
    a = exposed(engine)
    f = upload(fab, png_bytes()).json()
    six = [{"fileId": f["fileId"]}] * 6
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}, "images": six})
    assert r.status_code == 400 and "5" in r.json()["error"]
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"},
                                                "images": [{"fileId": "file_nope"}]})
    assert r.status_code == 400 and "file_nope" in r.json()["error"]
    # a text file is refused, even when it claims to be an image
    r = upload(fab, b"hello, not an image", name="notes.png", ctype="image/png")
    assert r.status_code == 400 and "image" in r.json()["error"]
    r = requests.post(fab.s.url + BASE + "/agents/files", headers=fab.h(),
                      files={"other": ("x.png", io.BytesIO(png_bytes()), "image/png")}, timeout=10)
    assert r.status_code == 400 and "'file'" in r.json()["error"]
    r = requests.post(fab.s.url + BASE + "/agents/files", headers=fab.h(), data=b"raw", timeout=10)
    assert r.status_code == 400 and "multipart" in r.json()["error"]
    # another workspace's file is unknown here
    engine.post("/agentd/v1/workspaces", {"slug": "other"})
    other = Fabric(engine, engine.create_key(workspace="other",
                                             scopes=["agents:read", "agents:execute"])["key"])
    of = upload(other, png_bytes()).json()
    r = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"},
                                                "images": [{"fileId": of["fileId"]}]})
    assert r.status_code == 400


def test_upload_size_cap(make_server, fakemodel):
    from conftest import engine_config
    s = make_server(config=engine_config(fakemodel, max_upload_bytes=2048))
    fab = Fabric(s, s.create_key(scopes=["agents:execute"])["key"])
    r = upload(fab, png_bytes() + b"\x00" * 5000)
    assert r.status_code == 413 and "error" in r.json()
    assert upload(fab, png_bytes()).status_code == 200


def test_rate_limit_and_quota(engine):
    a = exposed(engine)
    limited = Fabric(engine, engine.create_key(scopes=["agents:read", "agents:execute"],
                                               rate_limit=2)["key"])
    assert limited.get("/agents").headers["X-RateLimit-Limit"] == "2"
    limited.get("/agents")
    r = limited.get("/agents")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1 and "error" in r.json()
    quota = Fabric(engine, engine.create_key(scopes=["agents:read", "agents:execute"],
                                             execution_quota=2)["key"])
    for _ in range(2):
        assert quota.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}}).status_code == 202
    r = quota.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}})
    assert r.status_code == 429 and "quota" in r.json()["error"]
    # an idempotent replay is not a new execution: it does not need quota
    q2 = Fabric(engine, engine.create_key(scopes=["agents:execute"], execution_quota=1)["key"])
    b = {"input": {"message": "once"}, "idempotencyKey": "q"}
    assert q2.post(f"/agents/{a['id']}/execute", b).status_code == 202
    assert q2.post(f"/agents/{a['id']}/execute", b).status_code == 200
    me = requests.get(engine.url + "/agentd/v1/me", headers=q2.h(), timeout=10).json()
    assert me["execution_quota"] == 1 and me["executions_used"] == 1


def test_cancel_extension(engine, fab):
    a = exposed(engine, model="fake/hang")
    ex = fab.post(f"/agents/{a['id']}/execute", {"input": {"message": "x"}}).json()
    time.sleep(0.3)
    r = fab.post(f"/executions/{ex['executionId']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    r = fab.post(f"/executions/{ex['executionId']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "CANCELLED"
    assert fab.post("/executions/nope/cancel").status_code == 404


def test_errors_are_fabric_shaped(engine, fab):
    r = fab.get("/nothing/here")
    assert r.status_code == 404 and set(r.json()) == {"error"}
    r = requests.put(engine.url + BASE + "/agents", headers=fab.h(), timeout=10)
    assert r.status_code == 405 and set(r.json()) == {"error"}
    r = requests.post(engine.url + BASE + "/agents/x/execute", data="{bad", headers=fab.h(),
                      timeout=10)
    assert r.status_code == 400 and "line 1" in r.json()["error"]
