"""Executions: lifecycle, Prefer: wait, input rules, idempotency, priorities, cancellation,
provider faults, tools, sub-agents, custom code, sessions and costs."""
import concurrent.futures
import json
import time

import pytest
import requests

from conftest import create_agent, run, wait_terminal


def statuses(engine, exec_id):
    r = engine.get(f"/agentd/v1/executions/{exec_id}/events",
                   headers=dict(engine.h(), Accept="application/x-ndjson"))
    return [json.loads(l) for l in r.text.splitlines() if l.strip()]


def test_async_lifecycle(engine):
    a = create_agent(engine, model="fake/echo")
    r = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {"message": "hello"}})
    assert r.status_code == 202, r.text
    e = r.json()
    assert e["status"] == "queued" and r.headers["Location"] == f"/agentd/v1/executions/{e['id']}"
    done = wait_terminal(engine, e["id"])
    assert done["status"] == "completed"
    assert done["output"] == {"response": "echo: hello"}
    assert done["usage"] == {"tokens_in": 100, "tokens_out": 2}
    assert done["started_at"] and done["completed_at"] and done["duration_ms"] >= 0
    evs = statuses(engine, e["id"])
    assert [x["seq"] for x in evs] == list(range(1, len(evs) + 1))
    kinds = [x["type"] for x in evs]
    assert kinds[0] == "status" and evs[0]["data"]["status"] == "queued"
    assert evs[1]["data"]["status"] == "running"
    assert "step.start" in kinds and "text.delta" in kinds and "step.finish" in kinds
    assert kinds[-1] == "done" and evs[-1]["data"]["status"] == "completed"
    text = "".join(x["data"]["text"] for x in evs if x["type"] == "text.delta")
    assert text == "echo: hello"


def test_prefer_wait_both_ways(engine):
    fast = create_agent(engine, model="fake/echo")
    r = run(engine, fast["id"], wait=10)
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert r.json()["trace"][0]["type"] == "llm"
    slow = create_agent(engine, model="fake/delay=2500/echo")
    t0 = time.time()
    r = run(engine, slow["id"], wait=1)
    assert r.status_code == 202 and r.json()["status"] in ("queued", "running")
    assert 0.9 <= time.time() - t0 < 2.4
    assert wait_terminal(engine, r.json()["id"])["status"] == "completed"


def test_input_schema_enforced(engine):
    a = create_agent(engine, model="fake/echo", input_schema={
        "type": "object", "required": ["customer"],
        "properties": {"customer": {"type": "object", "required": ["age"], "properties": {
            "age": {"type": "integer", "minimum": 18},
            "tier": {"enum": ["gold", "silver"]}}}}})
    for inp, path in [({}, "input.customer"), ({"customer": {"age": 12}}, "input.customer.age"),
                      ({"customer": {"age": 30, "tier": "iron"}}, "input.customer.tier"),
                      ({"customer": {"age": "old"}}, "input.customer.age")]:
        r = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": inp})
        assert r.status_code == 400, r.text
        assert path in r.json()["detail"], r.text
    r = run(engine, a["id"], {"input": {"customer": {"age": 30, "tier": "gold"}}})
    assert r.json()["status"] == "completed"


@pytest.mark.parametrize("inp,expected", [
    ({"message": "plain"}, "echo: plain"),
    ({"query": "q?"}, "echo: q?"),
    ({"text": "t", "lang": "en"}, "echo: t"),
    ({"message": "a", "prompt": "b"}, 'echo: {"message":"a","prompt":"b"}'),
    ({"n": 1}, 'echo: {"n":1}'),
])
def test_input_to_prompt_rule(engine, inp, expected):
    a = create_agent(engine, model="fake/echo")
    assert run(engine, a["id"], {"input": inp}).json()["output"]["response"] == expected


def test_input_template(engine):
    a = create_agent(engine, model="fake/echo", input_template="Summarise {{topic}} in {{ n }} words")
    r = run(engine, a["id"], {"input": {"topic": "Q4 sales", "n": 5}})
    assert r.json()["output"]["response"] == "echo: Summarise Q4 sales in 5 words"


def test_bad_execution_requests(engine):
    a = create_agent(engine, model="fake/echo")
    url = f"/agentd/v1/agents/{a['id']}/executions"
    for body, word in [({"input": "text"}, "input"), ({"priority": "URGENT"}, "priority"),
                       ({"timeout_s": 0}, "timeout_s"), ({"colour": 1}, "colour"),
                       ({"metadata": [1]}, "metadata"), ({"revision": 0}, "revision")]:
        r = engine.post(url, body)
        assert r.status_code == 400 and word in r.json()["detail"], (body, r.text)
    assert engine.post("/agentd/v1/agents/ghost/executions", {}).status_code == 404
    r = engine.post(url, {"revision": 7})
    assert r.status_code == 404 and "revision 7" in r.json()["detail"]


def test_idempotency(engine):
    a = create_agent(engine, model="fake/echo")
    url = f"/agentd/v1/agents/{a['id']}/executions"
    body = {"input": {"message": "once"}, "idempotency_key": "order-1"}
    r1 = engine.post(url, body)
    assert r1.status_code == 202
    r2 = engine.post(url, body)
    assert r2.status_code == 200 and r2.headers["Idempotency-Replayed"] == "true"
    assert r2.json()["id"] == r1.json()["id"]
    r3 = engine.post(url, {"input": {"message": "other"}, "idempotency_key": "order-1"})
    assert r3.status_code == 409
    # the header form
    h = dict(engine.h(), **{"Idempotency-Key": "hdr-1"})
    r4 = engine.post(url, {"input": {"message": "h"}}, headers=h)
    r5 = engine.post(url, {"input": {"message": "h"}}, headers=h)
    assert r4.status_code == 202 and r5.status_code == 200
    assert r4.json()["id"] == r5.json()["id"]
    # the same key on another agent is another execution
    b = create_agent(engine, model="fake/echo")
    r6 = engine.post(f"/agentd/v1/agents/{b['id']}/executions", body)
    assert r6.status_code == 202 and r6.json()["id"] != r1.json()["id"]


def test_idempotency_50_concurrent(engine):
    a = create_agent(engine, model="fake/echo")
    url = engine.url + f"/agentd/v1/agents/{a['id']}/executions"
    body = {"input": {"message": "burst"}, "idempotency_key": "burst-1"}

    def one(_):
        return requests.post(url, json=body, headers=engine.h(), timeout=20)
    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        rs = list(pool.map(one, range(50)))
    assert all(r.status_code in (200, 202) for r in rs), [r.text for r in rs if r.status_code > 202]
    assert len({r.json()["id"] for r in rs}) == 1
    assert sum(r.status_code == 202 for r in rs) == 1
    listed = engine.get(f"/agentd/v1/executions?agent_id={a['id']}").json()["executions"]
    assert len(listed) == 1


def test_priority_order_under_full_queue(engine):
    a = create_agent(engine, model="fake/delay=300/echo", limits={"max_concurrency": 1})
    url = f"/agentd/v1/agents/{a['id']}/executions"
    first = engine.post(url, {"input": {"message": "first"}}).json()
    time.sleep(0.1)    # the first one is running; the rest queue behind it
    ids = {}
    for p in ["LOW", "NORMAL", "HIGH", "CRITICAL", "LOW", "CRITICAL"]:
        ids.setdefault(p, []).append(engine.post(url, {"input": {"message": p},
                                                       "priority": p}).json()["id"])
    order = []
    for p, lst in ids.items():
        for i in lst:
            e = wait_terminal(engine, i)
            order.append((e["started_at"], p, i))
    wait_terminal(engine, first["id"])
    order.sort()
    assert [p for _, p, _ in order] == ["CRITICAL", "CRITICAL", "HIGH", "NORMAL", "LOW", "LOW"]
    # age within one priority
    crit = [i for _, p, i in order if p == "CRITICAL"]
    assert crit == ids["CRITICAL"]


def test_cancel_queued_running_and_finished(engine):
    a = create_agent(engine, model="fake/hang", limits={"max_concurrency": 1})
    url = f"/agentd/v1/agents/{a['id']}/executions"
    running = engine.post(url, {"input": {"message": "r"}}).json()
    queued = engine.post(url, {"input": {"message": "q"}}).json()
    time.sleep(0.3)
    assert engine.get(f"/agentd/v1/executions/{running['id']}").json()["status"] == "running"
    assert engine.get(f"/agentd/v1/executions/{queued['id']}").json()["status"] == "queued"
    reader = engine.create_key(scopes=["agents:read", "agents:execute"])["key"]
    r = engine.post(f"/agentd/v1/executions/{queued['id']}/cancel", key=reader)
    assert r.status_code == 403 and "executions:cancel" in r.json()["detail"]
    r = engine.post(f"/agentd/v1/executions/{queued['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    t0 = time.time()
    r = engine.post(f"/agentd/v1/executions/{running['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert time.time() - t0 < 3     # the in-flight model call was aborted
    # idempotent, and harmless on a finished execution
    r = engine.post(f"/agentd/v1/executions/{running['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    done = run(engine, create_agent(engine, model="fake/echo")["id"]).json()
    r = engine.post(f"/agentd/v1/executions/{done['id']}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "completed"
    assert statuses(engine, running["id"])[-1]["data"]["status"] == "cancelled"


@pytest.mark.parametrize("model,status,code,word", [
    ("fake/429", "failed", "rate_limited", "429"),
    ("fake/429once/echo", "completed", None, None),
    ("fake/500", "failed", "provider_error", "500"),
    ("fake/500once/echo", "completed", None, None),
    ("fake/400", "failed", "provider_error", "the model refused"),
    ("fakean/400", "failed", "provider_error", "the model refused"),
    ("fake/malformed", "failed", "provider_error", "malformed"),
    ("fakeplain/malformed", "failed", "provider_error", "malformed"),
    ("fake/cut", "failed", "provider_error", "cut off"),
    ("down/echo", "failed", "provider_unreachable", "127.0.0.1:9"),
])
def test_provider_faults_end_clearly(engine, model, status, code, word):
    a = create_agent(engine, model=model)
    e = run(engine, a["id"], wait=40).json()
    assert e["status"] == status, e
    if code:
        assert e["error"]["code"] == code, e
        assert word in e["error"]["message"], e
        assert statuses(engine, e["id"])[-1]["type"] == "done"
    else:
        assert e["output"]["response"] == "echo: hi"


def test_hang_hits_the_deadline(engine):
    a = create_agent(engine, model="fake/hang")
    r = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {}, "timeout_s": 2})
    e = wait_terminal(engine, r.json()["id"], timeout=15)
    assert e["status"] == "failed" and e["error"]["code"] == "timeout"


def test_idle_model_server_is_given_up(engine):
    a = create_agent(engine, model="idle/hang")
    t0 = time.time()
    e = run(engine, a["id"], wait=30).json()
    assert e["status"] == "failed" and e["error"]["code"] == "timeout", e
    assert "after 1 retries" in e["error"]["message"]
    assert time.time() - t0 < 25          # curl judges silence over a few seconds per call


@pytest.mark.parametrize("provider", ["fake", "fakean", "fakeplain"])
def test_tools_round_trip(engine, fakemodel, provider):
    helper = create_agent(engine, model="fake/echo", name=f"helper-{provider}")
    a = create_agent(engine, model=f"{provider}/tools=lookup,ask", tools=[
        {"type": "http", "name": "lookup", "description": "look it up",
         "url": fakemodel.url + "/tools/echo",
         "parameters": {"type": "object", "properties": {"message": {"type": "string"}}}},
        {"type": "agent", "name": "ask", "agent": helper["slug"], "description": "ask helper"}])
    e = run(engine, a["id"], {"input": {"message": "find it"}}).json()
    assert e["status"] == "completed", e
    assert e["steps"] == 2
    kinds = [(s["type"], s["name"]) for s in e["trace"]]
    assert ("tool", "lookup") in kinds and ("agent", "ask") in kinds
    lookup = [s for s in e["trace"] if s["name"] == "lookup"][0]
    assert json.loads(lookup["result"]) == {"echoed": {"message": "find it"}}
    ask = [s for s in e["trace"] if s["name"] == "ask"][0]
    assert ask["result"] == "echo: find it"
    evs = statuses(engine, e["id"])
    calls = [x for x in evs if x["type"] == "tool.call"]
    results = [x for x in evs if x["type"] == "tool.result"]
    assert len(calls) == 2 and len(results) == 2
    assert calls[0]["data"]["arguments"] == {"message": "find it"}
    child = engine.get(f"/agentd/v1/executions?agent_id={helper['id']}").json()["executions"][0]
    assert child["source"] == "subagent" and child["parent_id"] == e["id"]
    assert e["usage"]["tokens_in"] == 200


def test_tool_failures_are_fed_back(engine, fakemodel):
    for path, word in [("big", "exceeded"), ("fail", "HTTP 500")]:
        a = create_agent(engine, model="fake/tool=t", tools=[
            {"type": "http", "name": "t", "url": fakemodel.url + "/tools/" + path,
             "max_bytes": 1000}])
        e = run(engine, a["id"]).json()
        assert e["status"] == "completed"
        assert word in e["output"]["response"], e
        assert [s for s in e["trace"] if s["type"] == "tool"][0]["status"] == "failed"


def test_max_steps(engine, fakemodel):
    a = create_agent(engine, model="fake/tool=t", limits={"max_steps": 1}, tools=[
        {"type": "http", "name": "t", "url": fakemodel.url + "/tools/echo"}])
    e = run(engine, a["id"]).json()
    assert e["status"] == "failed" and e["error"]["code"] == "max_steps"


def test_custom_agent_streams_and_answers(engine):
    a = create_agent(engine, type="custom", command="stream")
    r = engine.post(f"/agentd/v1/agents/{a['id']}/executions",
                    {"input": {"message": "one two three"}})
    e = wait_terminal(engine, r.json()["id"])
    assert e["status"] == "completed"
    assert e["output"] == {"response": "ONE TWO THREE", "execution_id": e["id"]}
    deltas = [x["data"]["text"] for x in statuses(engine, e["id"]) if x["type"] == "text.delta"]
    assert "".join(deltas) == "one two three"
    p = create_agent(engine, type="custom", command="plain")
    e = run(engine, p["id"], {"input": {"text": "abc"}}).json()
    assert e["output"] == {"response": "you said: abc"}


def test_custom_agent_deadline_and_failure(engine):
    s = create_agent(engine, type="custom", command="sleepy")
    t0 = time.time()
    e = run(engine, s["id"]).json()
    assert e["status"] == "failed" and e["error"]["code"] == "timeout"
    assert time.time() - t0 < 8
    b = create_agent(engine, type="custom", command="broken")
    e = run(engine, b["id"]).json()
    assert e["status"] == "failed" and e["error"]["code"] == "custom_failed"
    assert "status 3" in e["error"]["message"]
    assert "no database" in e["error"]["message"]


def test_sessions_remember(engine):
    a = create_agent(engine, model="fake/history", execution_mode="multi_turn")
    url = f"/agentd/v1/agents/{a['id']}/executions"
    e1 = run(engine, a["id"], {"input": {"message": "my name is Ada"}, "session_id": "s1"}).json()
    assert e1["output"]["response"] == "1: my name is Ada"
    e2 = run(engine, a["id"], {"input": {"message": "what is my name?"}, "session_id": "s1"}).json()
    assert e2["output"]["response"] == "2: my name is Ada|what is my name?"
    e3 = run(engine, a["id"], {"input": {"message": "fresh"}, "session_id": "s2"}).json()
    assert e3["output"]["response"] == "1: fresh"
    assert e2["session_id"] == "s1"
    # a single-turn agent keeps no memory
    b = create_agent(engine, model="fake/history")
    run(engine, b["id"], {"input": {"message": "a"}, "session_id": "s1"})
    assert run(engine, b["id"], {"input": {"message": "b"}, "session_id": "s1"}).json()[
        "output"]["response"] == "1: b"


def test_sessions_run_one_at_a_time(engine):
    a = create_agent(engine, model="fake/delay=400/history", execution_mode="multi_turn")
    url = f"/agentd/v1/agents/{a['id']}/executions"
    ids = [engine.post(url, {"input": {"message": f"m{i}"}, "session_id": "serial"}).json()["id"]
           for i in range(3)]
    outs = [wait_terminal(engine, i)["output"]["response"] for i in ids]
    assert outs == ["1: m0", "2: m0|m1", "3: m0|m1|m2"]


def test_costs_add_up(engine):
    a = create_agent(engine, model="fake/echo")
    e = run(engine, a["id"], {"input": {"message": "one two three"}}).json()
    # 100 tokens in at $1/M, 4 out at $2/M
    assert e["usage"] == {"tokens_in": 100, "tokens_out": 4}
    assert e["cost"]["input"] == pytest.approx(100 / 1e6)
    assert e["cost"]["output"] == pytest.approx(8 / 1e6)
    assert e["cost"]["total"] == pytest.approx(108 / 1e6)
    usage = [x for x in statuses(engine, e["id"]) if x["type"] == "usage"][0]["data"]
    assert usage["cost_total"] == pytest.approx(108 / 1e6)


def test_list_and_filters(engine):
    a = create_agent(engine, model="fake/echo")
    b = create_agent(engine, model="fake/400")
    ids = [run(engine, a["id"]).json()["id"] for _ in range(3)]
    bad = run(engine, b["id"]).json()["id"]
    r = engine.get("/agentd/v1/executions?limit=2").json()
    assert len(r["executions"]) == 2 and r["next_cursor"]
    assert r["executions"][0]["id"] == bad          # newest first
    r2 = engine.get(f"/agentd/v1/executions?limit=2&cursor={r['next_cursor']}").json()
    assert [x["id"] for x in r2["executions"]] == [ids[1], ids[0]]
    r = engine.get("/agentd/v1/executions?status=failed").json()
    assert [x["id"] for x in r["executions"]] == [bad]
    r = engine.get(f"/agentd/v1/executions?agent_id={a['slug']}").json()
    assert len(r["executions"]) == 3
    r = engine.get("/agentd/v1/executions?since=2999-01-01T00:00:00Z").json()
    assert r["executions"] == []
    assert engine.get("/agentd/v1/executions?status=odd").status_code == 400
