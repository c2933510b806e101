"""Durability: every execution that got a 202 survives kill -9 and reaches a terminal state
after restart; running executions are re-queued unless a tool had started."""
import concurrent.futures
import signal
import threading
import time

import requests

from conftest import Server, create_agent, engine_config, wait_terminal


def test_kill9_under_load(tmp_path, fakemodel):
    cfg = engine_config(fakemodel)
    s = Server(tmp_path / "d", config=cfg).start()
    a = create_agent(s, model="fake/delay=300/echo")
    url = s.url + f"/agentd/v1/agents/{a['id']}/executions"
    accepted, stop = [], threading.Event()

    def submit(i):
        sess = requests.Session()
        n = 0
        while not stop.is_set() and n < 200:
            try:
                r = sess.post(url, json={"input": {"message": f"m{i}-{n}"}},
                              headers=s.h(), timeout=5)
            except requests.RequestException:
                return
            if r.status_code == 202:
                accepted.append(r.json()["id"])
            n += 1
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futs = [pool.submit(submit, i) for i in range(8)]
        time.sleep(1.5)
        s.proc.send_signal(signal.SIGKILL)
        stop.set()
        for f in futs:
            f.result()
    s.proc.wait()
    s.stop()
    assert len(accepted) > 50
    s2 = Server(tmp_path / "d", config=cfg).start()
    try:
        statuses = {}
        deadline = time.time() + 60
        pending = set(accepted)
        while pending and time.time() < deadline:
            for i in list(pending):
                r = s2.get(f"/agentd/v1/executions/{i}", key=s.admin_key)
                assert r.status_code == 200, f"accepted execution {i} was lost"
                st = r.json()["status"]
                if st in ("completed", "failed", "cancelled"):
                    statuses[i] = r.json()
                    pending.discard(i)
            time.sleep(0.2)
        assert not pending, f"{len(pending)} executions never finished"
        assert all(e["status"] == "completed" for e in statuses.values())
        requeued = [e for e in statuses.values() if e["attempt"] > 1]
        for e in requeued:   # the log continues after the restart without gaps
            r = s2.get(f"/agentd/v1/executions/{e['id']}/events", key=s.admin_key,
                       headers={"Authorization": f"Bearer {s.admin_key}",
                                "Accept": "application/x-ndjson"})
            import json
            seqs = [json.loads(l)["seq"] for l in r.text.splitlines() if l.strip()]
            assert seqs == list(range(1, len(seqs) + 1))
    finally:
        s2.stop()


def test_tool_started_is_interrupted(tmp_path, fakemodel):
    cfg = engine_config(fakemodel)
    s = Server(tmp_path / "d", config=cfg).start()
    a = create_agent(s, model="fake/tool=slow", tools=[
        {"type": "http", "name": "slow", "url": fakemodel.url + "/tools/slow"}])
    q = create_agent(s, model="fake/hang")
    e = s.post(f"/agentd/v1/agents/{a['id']}/executions", {"input": {"message": "x"}}).json()
    h = s.post(f"/agentd/v1/agents/{q['id']}/executions", {"input": {"message": "x"}}).json()
    with requests.get(s.url + f"/agentd/v1/executions/{e['id']}/events", stream=True,
                      headers={"Authorization": f"Bearer {s.admin_key}",
                               "Accept": "application/x-ndjson"}, timeout=10) as r:
        for line in r.iter_lines():
            if b"tool.call" in line:
                break
    time.sleep(0.3)   # the tool.call's state write is committed
    s.proc.send_signal(signal.SIGKILL)
    s.proc.wait()
    s.stop()
    s2 = Server(tmp_path / "d", config=cfg).start()
    try:
        got = wait_terminal(s2, e["id"], key=s.admin_key)
        assert got["status"] == "failed" and got["error"]["code"] == "interrupted"
        # the hanging model call had no tool: it is re-queued (attempt 2) and runs again
        deadline = time.time() + 10
        while time.time() < deadline:
            hx = s2.get(f"/agentd/v1/executions/{h['id']}", key=s.admin_key).json()
            if hx["attempt"] == 2 and hx["status"] == "running":
                break
            time.sleep(0.05)
        assert hx["attempt"] == 2 and hx["status"] == "running"
    finally:
        s2.stop()
