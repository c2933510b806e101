"""Operational endpoints, bootstrap, restart and graceful shutdown."""
import re
import signal
import subprocess
import threading

import requests

from conftest import BIN, Server


def test_healthz_and_readyz(server):
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(server.url + "/readyz", timeout=5)
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_metrics(server):
    import time
    server.get("/agentd/v1/me")
    server.get("/agentd/v1/me", headers={})
    server.create_key()
    # a request is counted when the server has finished it, which may trail the client
    # having its answer by a moment
    ok200 = 'agentd_http_requests_total{route="GET /agentd/v1/me",status="200"} 1'
    ok401 = 'agentd_http_requests_total{route="GET /agentd/v1/me",status="401"} 1'
    deadline = time.time() + 5
    while True:
        text = requests.get(server.url + "/metrics", timeout=5).text
        if (ok200 in text and ok401 in text) or time.time() > deadline:
            break
        time.sleep(0.05)
    assert ok200 in text and ok401 in text
    assert re.search(r'agentd_http_request_duration_seconds_bucket\{le="\+Inf"\} \d+', text)
    m = re.search(r"agentd_http_requests_in_flight (\d+)", text)
    assert m and int(m.group(1)) >= 1                     # this very request
    assert re.search(r"agentd_store_queue_depth \d+", text)
    m = re.search(r"agentd_store_commit_batch_size_count (\d+)", text)
    assert m and int(m.group(1)) >= 1
    assert re.search(r"agentd_executions_running \d+", text)


def test_bootstrap_once_and_data_survives_restart(tmp_path):
    s = Server(tmp_path / "d").start()
    key = s.admin_key
    assert key and key.startswith("org_")
    k = s.create_key(name="keeper")
    assert s.stop() == 0
    s2 = Server(tmp_path / "d").start()
    try:
        assert s2.admin_key is None            # shown only on first start
        assert s2.get("/agentd/v1/me", key=key).status_code == 200
        assert s2.get("/agentd/v1/me", key=k["key"]).json()["name"] == "keeper"
    finally:
        s2.stop()


def test_last_used_is_written_in_batches(tmp_path):
    s = Server(tmp_path / "d").start()
    k = s.create_key(name="used")
    for _ in range(5):
        assert s.get("/agentd/v1/me", key=k["key"]).status_code == 200
    assert s.stop() == 0      # shutdown flushes pending last-used times
    p = subprocess.run([BIN, "keys", "list", "--data-dir", s.data_dir], capture_output=True,
                       text=True, timeout=30)
    row = [l for l in p.stdout.splitlines() if l.startswith(k["id"])][0]
    assert "never" not in row


def test_graceful_shutdown_finishes_inflight_writes(tmp_path):
    s = Server(tmp_path / "d").start()
    results = []

    def worker():
        sess = requests.Session()
        for i in range(30):
            try:
                r = sess.post(s.url + "/agentd/v1/projects", json={"name": f"p-{threading.get_ident()}-{i}"},
                              headers=s.h(), timeout=10)
                results.append(r.status_code)
            except requests.RequestException:
                results.append("conn")
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    s.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join()
    assert s.stop() == 0
    created = results.count(201)
    # every request answered 201 is durable after restart
    s2 = Server(tmp_path / "d").start()
    try:
        r = s2.get("/agentd/v1/projects", key=s.admin_key)
        assert r.json()["total_count"] == created
    finally:
        s2.stop()
    assert all(x in (201, 503, "conn") for x in results), results


def test_sigint_also_stops(tmp_path):
    s = Server(tmp_path / "d").start()
    assert s.stop(sig=signal.SIGINT) == 0
