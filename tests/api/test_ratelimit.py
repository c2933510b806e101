"""Per-key token buckets: headers on every authenticated response, 429 with Retry-After."""
import time


def test_headers_on_every_authenticated_response(server):
    before = int(time.time())
    r = server.get("/agentd/v1/me")
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Limit"] == "60"
    assert int(r.headers["X-RateLimit-Remaining"]) == 59
    reset = int(r.headers["X-RateLimit-Reset"])
    assert before <= reset <= before + 62
    # also on errors after authentication
    r = server.get("/agentd/v1/keys/nokey")
    assert r.status_code == 404
    assert int(r.headers["X-RateLimit-Remaining"]) == 58
    # not on unauthenticated responses
    r = server.get("/healthz", headers={})
    assert "X-RateLimit-Limit" not in r.headers


def test_429_with_retry_after(server):
    k = server.create_key(rate_limit=3)
    assert k["rate_limit"] == 3
    seen = []
    for _ in range(3):
        r = server.get("/agentd/v1/me", key=k["key"])
        assert r.status_code == 200
        seen.append(int(r.headers["X-RateLimit-Remaining"]))
    assert seen == [2, 1, 0]
    r = server.get("/agentd/v1/me", key=k["key"])
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers["X-RateLimit-Limit"] == "3"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit" in r.json()["detail"]
    # other keys are not affected
    assert server.get("/agentd/v1/me").status_code == 200


def test_refill_after_retry_after(server):
    k = server.create_key(rate_limit=60)   # one token per second
    for _ in range(200):                   # spend the bucket, however slow the machine is
        r = server.get("/agentd/v1/me", key=k["key"])
        if r.status_code == 429:
            break
    assert r.status_code == 429
    time.sleep(int(r.headers["Retry-After"]) + 0.1)
    assert server.get("/agentd/v1/me", key=k["key"]).status_code == 200


def test_global_default_from_config(make_server):
    s = make_server(config={"rate_limit_per_minute": 2})
    assert s.get("/agentd/v1/me").headers["X-RateLimit-Limit"] == "2"
    s.get("/agentd/v1/me")
    assert s.get("/agentd/v1/me").status_code == 429
