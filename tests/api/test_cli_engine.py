"""The client commands: agents list/get/apply/expose and run, with their exit codes."""
import json
import subprocess

from conftest import BIN, create_agent


def cli(server, *args, key=None, input=None):
    env = {"AGENTD_URL": server.url, "AGENTD_KEY": key or server.admin_key, "PATH": "/usr/bin:/bin"}
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=60,
                          env=env, input=input)


def test_agents_apply_list_get_expose(engine, tmp_path):
    f = tmp_path / "bot.json"
    f.write_text(json.dumps({"name": "Git Bot", "model": "fake/echo", "system_prompt": "v1"}))
    p = cli(engine, "agents", "apply", "-f", str(f))
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("created agent git-bot (revision 1")
    f.write_text(json.dumps({"name": "Git Bot", "model": "fake/echo", "system_prompt": "v2"}))
    p = cli(engine, "agents", "apply", "-f", str(f))
    assert p.returncode == 0 and p.stdout.startswith("updated agent git-bot (revision 2")
    p = cli(engine, "agents", "list")
    assert p.returncode == 0 and "git-bot" in p.stdout and "fake/echo" in p.stdout
    p = cli(engine, "agents", "get", "git-bot")
    assert json.loads(p.stdout)["system_prompt"] == "v2"
    p = cli(engine, "agents", "expose", "git-bot")
    assert p.returncode == 0 and "exposed" in p.stdout
    assert engine.get("/agentd/v1/agents/git-bot").json()["exposed"] is True
    p = cli(engine, "agents", "expose", "git-bot", "--off")
    assert engine.get("/agentd/v1/agents/git-bot").json()["exposed"] is False
    # a list of definitions, one of them invalid: stops with the server's message
    f.write_text(json.dumps([{"name": "A1", "model": "fake/echo"},
                             {"name": "A2", "model": "fake/echo", "temperature": 9}]))
    p = cli(engine, "agents", "apply", "-f", str(f))
    assert p.returncode == 6 and "temperature" in p.stderr
    p = cli(engine, "agents", "get", "nope")
    assert p.returncode == 6 and "404" in p.stderr
    p = cli(engine, "agents", "list", key="org_zzzzzzzz_" + "a" * 32)
    assert p.returncode == 5


def test_run_exit_codes(engine):
    ok = create_agent(engine, model="fake/echo", name="ok")
    p = cli(engine, "run", "ok", "--message", "hello world")
    assert p.returncode == 0 and p.stdout == "echo: hello world\n"
    p = cli(engine, "run", "ok", "--input", '{"message": "as json"}', "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["output"]["response"] == "echo: as json"
    p = cli(engine, "run", "ok", "--message", "one two three", "--stream")
    assert p.returncode == 0 and p.stdout == "echo: one two three\n"
    create_agent(engine, model="fake/400", name="bad")
    p = cli(engine, "run", "bad", "--message", "x")
    assert p.returncode == 1 and "provider_error" in p.stderr
    create_agent(engine, model="fake/hang", name="slow")
    p = cli(engine, "run", "slow", "--message", "x", "--wait", "1")
    assert p.returncode == 4 and "gave up waiting" in p.stderr
    p = cli(engine, "run", "ok", "--message", "x", key="org_zzzzzzzz_" + "a" * 32)
    assert p.returncode == 5
    p = cli(engine, "run", "ghost", "--message", "x")
    assert p.returncode == 6
    p = cli(engine, "run")
    assert p.returncode == 2
    p = cli(engine, "run", "ok", "--input", "[1]")
    assert p.returncode == 2
    create_agent(engine, type="custom", command="stream", name="streamer")
    p = cli(engine, "run", "streamer", "--message", "a b c", "--stream")
    assert p.returncode == 0 and p.stdout.startswith("a b c\n")
    assert json.loads(p.stdout[len("a b c\n"):])["response"] == "A B C"


def test_run_cancelled_and_timeout(engine):
    import threading
    import time
    create_agent(engine, model="fake/hang", name="hang")
    create_agent(engine, model="fake/hang", name="limited")
    out = {}

    def go():
        out["p"] = cli(engine, "run", "hang", "--message", "x", "--wait", "20")
    t = threading.Thread(target=go)
    t.start()
    time.sleep(1)
    ex = engine.get("/agentd/v1/executions?status=running").json()["executions"][0]
    engine.post(f"/agentd/v1/executions/{ex['id']}/cancel")
    t.join()
    assert out["p"].returncode == 3 and "cancelled" in out["p"].stderr
    create_agent(engine, type="custom", command="sleepy", name="sleepy")
    p = cli(engine, "run", "sleepy", "--message", "x")
    assert p.returncode == 4 and "timeout" in p.stderr
