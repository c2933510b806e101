"""The HTTP layer: routing errors, caps, malformed bodies, request ids, CORS, robustness."""
import json
import random
import re
import socket
import time

import pytest
import requests


def raw(server, data, timeout=5):
    host, port = server.url[len("http://"):].split(":")
    s = socket.create_connection((host, int(port)), timeout=timeout)
    try:
        s.sendall(data)
        chunks = []
        while True:
            try:
                c = s.recv(65536)
            except socket.timeout:
                break
            if not c:
                break
            chunks.append(c)
        return b"".join(chunks)
    finally:
        s.close()


def test_unknown_path_is_404_problem_json(server):
    r = server.get("/agentd/v1/no/such/thing")
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == 404 and p["title"] == "Not Found"
    assert p["instance"] == "/agentd/v1/no/such/thing"
    assert p["type"].startswith("urn:agentd:error:")
    assert requests.get(server.url + "/nothing-here", timeout=5).status_code == 404


def test_wrong_method_is_405_with_allow(server):
    r = requests.put(server.url + "/agentd/v1/keys", headers=server.h(), timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, POST"
    r = requests.post(server.url + "/healthz", timeout=5)
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET"


def test_head_is_served_like_get(server):
    r = requests.head(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
    assert r.content == b""


def test_body_over_cap_is_413_by_content_length(server):
    body = {"name": "x", "scopes": ["admin"], "pad": "a" * 20000}
    r = server.post("/agentd/v1/keys", body)
    assert r.status_code == 413
    assert "exceeds the limit" in r.json()["detail"]
    assert r.headers["Content-Type"] == "application/problem+json"


def test_body_over_cap_is_413_when_chunked(server):
    def gen():
        for _ in range(40):
            yield b"x" * 1000
    r = requests.post(server.url + "/agentd/v1/keys", data=gen(),
                      headers=dict(server.h(), **{"Content-Type": "application/json"}),
                      timeout=10)
    assert r.status_code == 413
    # nothing was created from the partial body
    names = [k["name"] for k in server.get("/agentd/v1/keys").json()["keys"]]
    assert names == ["admin"]


def test_body_on_bodyless_route_is_413(server):
    r = requests.get(server.url + "/agentd/v1/me", data="hello",
                     headers=server.h(), timeout=5)
    assert r.status_code == 413
    assert "takes no request body" in r.json()["detail"]


def test_413_is_decided_before_auth(server):
    r = requests.post(server.url + "/agentd/v1/keys", data="a" * 50000, timeout=5)
    assert r.status_code == 413


@pytest.mark.parametrize("body,line,col", [
    ('{"name": "x",\n "scopes": [admin]}', 2, 13),
    ('{"name": "x"', 1, 12),
    ('{"name" "x"}', 1, 9),
])
def test_malformed_json_names_line_and_column(server, body, line, col):
    r = requests.post(server.url + "/agentd/v1/keys", data=body,
                      headers=dict(server.h(), **{"Content-Type": "application/json"}),
                      timeout=5)
    assert r.status_code == 400
    detail = r.json()["detail"]
    m = re.search(r"line (\d+), column (\d+)", detail)
    assert m, detail
    assert (int(m.group(1)), int(m.group(2))) == (line, col), detail


def test_empty_body_where_json_required(server):
    r = requests.post(server.url + "/agentd/v1/keys", headers=server.h(), timeout=5)
    assert r.status_code == 400
    assert "empty" in r.json()["detail"]


def test_json_nesting_cap(server):
    body = '{"name": "x", "scopes": ["admin"], "deep": ' + "[" * 100 + "]" * 100 + "}"
    r = requests.post(server.url + "/agentd/v1/keys", data=body, headers=server.h(), timeout=5)
    assert r.status_code == 400
    assert "nesting deeper than 64" in r.json()["detail"]


def test_multipart_on_json_route_is_415(server):
    r = requests.post(server.url + "/agentd/v1/keys", files={"file": ("a.txt", b"hi")},
                      headers=server.h(), timeout=5)
    assert r.status_code == 415


def test_request_id_generated_and_echoed(server):
    r = requests.get(server.url + "/healthz", timeout=5)
    rid = r.headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f-]{36}", rid)
    r = requests.get(server.url + "/healthz", headers={"X-Request-Id": "abc-123.x"}, timeout=5)
    assert r.headers["X-Request-Id"] == "abc-123.x"
    # an unsafe id is replaced, not echoed
    r = requests.get(server.url + "/healthz", headers={"X-Request-Id": "a b<script>"},
                     timeout=5)
    assert r.headers["X-Request-Id"] != "a b<script>"


def test_access_log_lines(server):
    server.get("/agentd/v1/me", headers={"X-Request-Id": "trace-me-1",
                                         "Authorization": f"Bearer {server.admin_key}"})
    deadline = time.time() + 5     # written when the server has finished the request
    while True:
        with open(server.access_log) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        found = [l for l in lines if l.get("request_id") == "trace-me-1"]
        if found or time.time() > deadline:
            break
        time.sleep(0.05)
    line = found[0]
    assert line["method"] == "GET" and line["path"] == "/agentd/v1/me"
    assert line["status"] == 200 and line["bytes"] > 0
    assert "duration_ms" in line and line["key_id"] == server.admin_key[4:12]
    text = open(server.access_log).read()
    assert server.admin_key not in text


def test_header_cap_is_431(server):
    r = requests.get(server.url + "/healthz", headers={"X-Big": "a" * 20000}, timeout=5)
    assert r.status_code in (413, 431)
    assert requests.get(server.url + "/healthz", timeout=5).status_code == 200


def test_cors(make_server):
    s = make_server(config={"cors_origins": ["https://app.example"]})
    r = requests.get(s.url + "/healthz", headers={"Origin": "https://app.example"}, timeout=5)
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "Origin" in r.headers.get("Vary", "")
    r = requests.get(s.url + "/healthz", headers={"Origin": "https://evil.example"}, timeout=5)
    assert "Access-Control-Allow-Origin" not in r.headers
    r = requests.options(s.url + "/agentd/v1/keys",
                         headers={"Origin": "https://app.example",
                                  "Access-Control-Request-Method": "POST",
                                  "Access-Control-Request-Headers": "authorization"},
                         timeout=5)
    assert r.status_code == 204
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    assert r.headers["Allow"] == "GET, POST"


def test_garbage_burst_does_not_kill_the_server(server):
    rnd = random.Random(1234)
    payloads = [
        b"\x00\x01\x02\x03" * 100,
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET " + b"/" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /agentd/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"POST /agentd/v1/keys HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET /healthz HTTP/1.1\r\n" + b"X: y\r\n" * 5000 + b"\r\n",
        b"\r\n\r\n\r\n",
        b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
    ]
    for _ in range(40):
        payloads.append(bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))))
    for p in payloads:
        try:
            raw(server, p, timeout=1)
        except OSError:
            pass
    r = requests.get(server.url + "/healthz", timeout=5)
    assert r.status_code == 200
    assert server.get("/agentd/v1/me").status_code == 200
    assert server.proc.poll() is None


def test_pipelined_keepalive_requests(server):
    req = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    out = raw(server, req * 3 + b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.count(b"HTTP/1.1 200") == 4
