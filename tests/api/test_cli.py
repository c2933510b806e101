"""The command line: keys created, listed and revoked on the data directory while a server runs
on it; version and help."""
import re
import subprocess

import pytest

from conftest import BIN


def run(*args):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=30)


def test_cli_key_works_against_running_server(server):
    p = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "deploy",
                   "--scopes", "agents:read,agents:execute", "--rate-limit", "120")
    last = p.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"org_[a-z0-9]{8}_[a-z0-9]{32}", last), p.stdout
    r = server.get("/agentd/v1/me", key=last)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == "deploy"
    assert body["scopes"] == ["agents:read", "agents:execute"]
    assert r.headers["X-RateLimit-Limit"] == "120"


def test_cli_revoke_stops_key_at_once(server):
    key = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "tmp",
                     "--scopes", "agents:read").stdout.strip().splitlines()[-1]
    assert server.get("/agentd/v1/me", key=key).status_code == 200
    kid = key[4:12]
    p = server.cli("keys", "revoke", kid, "--data-dir", server.data_dir)
    assert "revoked" in p.stdout
    r = server.get("/agentd/v1/me", key=key)
    assert r.status_code == 401
    assert "revoked" in r.json()["detail"]


def test_cli_list_shows_keys_and_status(server):
    created = server.create_key(name="listed")
    server.delete(f"/agentd/v1/keys/{created['id']}")
    p = server.cli("keys", "list", "--data-dir", server.data_dir)
    lines = p.stdout.splitlines()
    assert lines[0].split()[:3] == ["ID", "KIND", "STATUS"]
    row = [l for l in lines if l.startswith(created["id"])][0]
    assert "revoked" in row and "listed" in row
    assert server.admin_key not in p.stdout


def test_cli_keys_in_other_workspace_and_personal(server):
    assert server.post("/agentd/v1/workspaces", {"slug": "me", "kind": "personal"}).status_code == 201
    p = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "mine",
                   "--scopes", "agents:read", "--workspace", "me")
    key = p.stdout.strip().splitlines()[-1]
    assert key.startswith("fab_")
    p = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "bad",
                   "--scopes", "agents:read", "--workspace", "me", "--kind", "org", check=False)
    assert p.returncode == 2 and "kind" in p.stderr
    p = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "bad",
                   "--scopes", "agents:read", "--workspace", "nowhere", check=False)
    assert p.returncode != 0 and "nowhere" in p.stderr


def test_cli_expires_and_validation(server, tmp_path):
    p = server.cli("keys", "create", "--data-dir", server.data_dir, "--name", "e",
                   "--scopes", "agents:read", "--expires", "2099-01-01T00:00:00Z")
    key = p.stdout.strip().splitlines()[-1]
    assert server.get("/agentd/v1/me", key=key).json()["expires_at"].startswith("2099-01-01")
    for args, word in [
        (["--scopes", "agents:read"], "--name"),
        (["--name", "x", "--scopes", "agents:dance"], "agents:dance"),
        (["--name", "x", "--scopes", "admin", "--rate-limit", "ten"], "--rate-limit"),
        (["--name", "x", "--scopes", "admin", "--expires", "soon"], "expires"),
        (["--name", "x", "--scopes", "admin", "--bogus"], "--bogus"),
    ]:
        p = server.cli("keys", "create", "--data-dir", server.data_dir, *args, check=False)
        assert p.returncode == 2, (args, p.stderr)
        assert word in p.stderr, (args, p.stderr)


def test_cli_works_without_server(tmp_path):
    d = str(tmp_path / "offline")
    p = run("keys", "create", "--data-dir", d, "--name", "first", "--scopes", "admin")
    assert p.returncode == 0, p.stderr
    key = p.stdout.strip().splitlines()[-1]
    assert key.startswith("org_")
    p = run("keys", "list", "--data-dir", d)
    assert "first" in p.stdout


def test_version_and_help():
    p = run("version")
    assert p.returncode == 0 and re.match(r"agentd \d+\.\d+\.\d+", p.stdout)
    for args in (["--help"], ["serve", "--help"], ["keys", "--help"], ["keys", "create", "--help"],
                 ["keys", "list", "--help"], ["keys", "revoke", "--help"], ["migrate", "--help"]):
        p = run(*args)
        assert p.returncode == 0, args
        assert "usage" in p.stdout.lower() or "commands" in p.stdout.lower(), args
    p = run("frobnicate")
    assert p.returncode == 2 and "unknown command" in p.stderr
    p = run()
    assert p.returncode == 2


def test_serve_refuses_bad_config(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"listen": "127.0.0.1:0", "colour": 1}')
    p = run("serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode == 2 and "colour" in p.stderr
    cfg.write_text('{"rate_limit_per_minute": 0}')
    p = run("serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode == 2 and "rate_limit_per_minute" in p.stderr
    cfg.write_text('{"listen": ')
    p = run("serve", "--data-dir", str(tmp_path / "d"), "--config", str(cfg))
    assert p.returncode == 2 and "line" in p.stderr
