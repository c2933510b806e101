"""The Fabric document's own examples (tests/clients/fabric/), run as written against a live
agentd with only the base URL, the key and the agent id substituted."""
import ast
import json
import os
import shutil
import subprocess

import pytest

from conftest import create_agent

CLIENTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                       "clients", "fabric")


def substitute(text, server, key, agent_id):
    return (text.replace("https://your-fabric-instance.com", server.url)
                .replace("fab_xxxxxxxx_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", key)
                .replace("fab_xxxxxxxx_...", key)
                .replace("your-agent-id", agent_id)
                .replace("{agentId}", agent_id))


@pytest.fixture
def setup(engine):
    # a personal workspace, a personal (fab_) key, as in the document
    engine.post("/agentd/v1/workspaces", {"slug": "me", "kind": "personal"})
    admin = engine.create_key(workspace="me", scopes=["admin"])["key"]
    agent = create_agent(engine, key=admin, name="Support Analyst", model="fake/delay=300/echo",
                         exposed=True)
    key = engine.create_key(key=admin, workspace="me",
                            scopes=["agents:read", "agents:execute", "agents:stream"])["key"]
    assert key.startswith("fab_")
    return engine, key, agent["id"]


def read(name):
    with open(os.path.join(CLIENTS, name)) as f:
        return f.read()


def test_curl_first_call(setup, tmp_path):
    server, key, agent = setup
    script = tmp_path / "first_call.sh"
    script.write_text(substitute(read("first_call.sh"), server, key, agent))
    p = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    first, second = [json.loads(l) for l in p.stdout.strip().splitlines()]
    for body in (first, second):
        assert set(body) == {"executionId", "status", "deploymentId", "workflowId"}
        assert body["workflowId"] == "deployment-exec-" + body["executionId"]
    import time
    deadline = time.time() + 20
    while time.time() < deadline:
        r = server.get(f"/api/v1/external/executions/{first['executionId']}", key=key).json()
        if r["status"] == "COMPLETED":
            break
        time.sleep(0.1)
    assert r["output"] == {"response": "echo: Summarize the Q4 sales report"}


def test_python_example(setup, tmp_path):
    server, key, agent = setup
    script = tmp_path / "example.py"
    script.write_text(substitute(read("example.py"), server, key, agent))
    p = subprocess.run(["/usr/bin/python3", str(script)], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    result = ast.literal_eval(p.stdout.strip())
    assert result["status"] == "COMPLETED"
    assert result["output"] == {"response": "echo: Analyze last month's support tickets"}


def test_javascript_example(setup, tmp_path):
    node = shutil.which("node") or "/usr/bin/node"
    server, key, agent = setup
    script = tmp_path / "example.mjs"
    script.write_text(substitute(read("example.mjs"), server, key, agent))
    p = subprocess.run([node, str(script)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "COMPLETED" in out and "echo: Generate a weekly status report" in out, out
