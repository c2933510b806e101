"""Event streams: live SSE, resume with Last-Event-ID and ?after=N exactly once, NDJSON,
replay of finished executions, heartbeats not needed for short streams."""
import json
import time

import requests

from conftest import create_agent, parse_sse, wait_terminal


def test_live_stream_to_done(engine):
    a = create_agent(engine, type="custom", command="stream")
    e = engine.post(f"/agentd/v1/agents/{a['id']}/executions",
                    {"input": {"message": "w1 w2 w3 w4 w5 w6 w7 w8"}}).json()
    with requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                      headers=dict(engine.h(), Accept="text/event-stream"), stream=True,
                      timeout=20) as r:
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "text/event-stream"
        body = r.text          # ends by itself after `done`
    evs = parse_sse(body)
    assert [x["id"] for x in evs] == list(range(1, len(evs) + 1))
    assert evs[-1]["event"] == "done"
    assert "".join(x["data"]["text"] for x in evs if x["event"] == "text.delta") == \
        "w1 w2 w3 w4 w5 w6 w7 w8"


def read_events_until(engine, exec_id, k):
    """Reads SSE events as a client would until event k has arrived, then drops the
    connection."""
    events, cur = [], {}
    with requests.get(engine.url + f"/agentd/v1/executions/{exec_id}/events",
                      headers=engine.h(), stream=True, timeout=20) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line == "":
                if cur:
                    events.append(cur)
                    if cur.get("id") == k:
                        break
                cur = {}
            elif line.startswith("id: "):
                cur["id"] = int(line[4:])
            elif line.startswith("event: "):
                cur["event"] = line[7:]
            elif line.startswith("data: "):
                cur["data"] = json.loads(line[6:])
    return events


def test_resume_exactly_once(engine):
    a = create_agent(engine, type="custom", command="stream")
    msg = " ".join(f"w{i}" for i in range(30))
    e = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {"message": msg}}).json()
    k = 5
    first = read_events_until(engine, e["id"], k)
    assert [x["id"] for x in first][-1] == k
    # reconnect with Last-Event-ID: exactly the events after k, live, to the end
    r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                     headers=dict(engine.h(), **{"Last-Event-ID": str(k)}), timeout=20)
    rest = parse_sse(r.text)
    assert rest[0]["id"] == k + 1
    ids = [x["id"] for x in first] + [x["id"] for x in rest]
    assert ids == list(range(1, ids[-1] + 1))          # no gap, no duplicate
    assert rest[-1]["event"] == "done"
    text = "".join(x["data"]["text"] for x in first + rest if x.get("event") == "text.delta")
    assert text == msg
    # ?after=N does the same
    r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events?after={k}",
                     headers=engine.h(), timeout=20)
    assert [x["id"] for x in parse_sse(r.text)] == [x["id"] for x in rest]


def test_replay_finished_and_ndjson(engine):
    a = create_agent(engine, model="fake/echo")
    e = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {"message": "x"}}).json()
    wait_terminal(engine, e["id"])
    r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                     headers=engine.h(), timeout=10)
    sse = parse_sse(r.text)
    r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                     headers=dict(engine.h(), Accept="application/x-ndjson"), timeout=10)
    assert r.headers["Content-Type"] == "application/x-ndjson"
    nd = [json.loads(l) for l in r.text.splitlines() if l.strip()]
    assert [x["seq"] for x in nd] == [x["id"] for x in sse]
    assert [x["type"] for x in nd] == [x["event"] for x in sse]
    assert all("time" in x for x in nd)
    r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                     headers=dict(engine.h(), **{"Last-Event-ID": "abc"}), timeout=10)
    assert r.status_code == 400


def test_client_disconnect_does_not_cancel(engine):
    a = create_agent(engine, model="fake/delay=800/echo")
    e = engine.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {"message": "x"}}).json()
    with requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                      headers=engine.h(), stream=True, timeout=10) as r:
        next(r.iter_content(64))
    assert wait_terminal(engine, e["id"])["status"] == "completed"


def test_many_concurrent_streams(engine):
    a = create_agent(engine, type="custom", command="stream")
    e = engine.post(f"/agentd/v1/agents/{a['id']}/executions",
                    {"input": {"message": "a b c d e f g h"}}).json()
    import concurrent.futures

    def one(_):
        r = requests.get(engine.url + f"/agentd/v1/executions/{e['id']}/events",
                         headers=engine.h(), timeout=20)
        return [x["id"] for x in parse_sse(r.text)]
    with concurrent.futures.ThreadPoolExecutor(20) as pool:
        results = list(pool.map(one, range(20)))
    assert all(r == results[0] for r in results) and results[0][-1] > 5
