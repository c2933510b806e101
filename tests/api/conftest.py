"""Black-box test harness: starts the real agentd binary on a free loopback port with a
temporary data directory, and speaks HTTP to it like a client would."""
import json
import os
import re
import signal
import subprocess
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("AGENTD_BIN", os.path.join(ROOT, "build", "agentd"))
FAKEMODEL = os.environ.get("FAKEMODEL_BIN", os.path.join(ROOT, "build", "fakemodel"))
SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scripts")


class Server:
    def __init__(self, data_dir, args=(), env=None, config=None):
        self.data_dir = str(data_dir)
        self.args = list(args)
        self.env = dict(os.environ)
        self.env.update(env or {})
        self.config = config
        self.proc = None
        self.admin_key = None
        self.url = None
        self.access_log = os.path.join(self.data_dir + "-logs", "access.log")
        self.stderr_path = os.path.join(self.data_dir + "-logs", "stderr.log")

    def start(self):
        os.makedirs(os.path.dirname(self.access_log), exist_ok=True)
        cmd = [BIN, "serve", "--data-dir", self.data_dir, "--listen", "127.0.0.1:0",
               "--access-log", self.access_log] + self.args
        if self.config is not None:
            cfg = self.data_dir + "-config.json"
            with open(cfg, "w") as f:
                json.dump(self.config, f)
            cmd += ["--config", cfg]
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     env=self.env, text=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("agentd exited during start: " + self.read_stderr())
            m = re.match(r"admin key: (\S+)", line)
            if m:
                self.admin_key = m.group(1)
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                return self
        raise RuntimeError("agentd did not start in time")

    def read_stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        rc = self.proc.returncode if self.proc else None
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if hasattr(self, "stderr"):
            self.stderr.close()
        return rc

    def cli(self, *args, check=True):
        cmd = [BIN] + list(args)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=self.env)
        if check and p.returncode != 0:
            raise AssertionError(f"{cmd} exited {p.returncode}: {p.stderr}")
        return p

    # HTTP helpers
    def h(self, key=None, header="Authorization"):
        key = key or self.admin_key
        if header == "Authorization":
            return {"Authorization": f"Bearer {key}"}
        return {header: key}

    def get(self, path, key=None, **kw):
        kw.setdefault("timeout", 10)
        headers = kw.pop("headers", None)
        headers = self.h(key) if headers is None else headers
        return requests.get(self.url + path, headers=headers, **kw)

    def post(self, path, body=None, key=None, **kw):
        kw.setdefault("timeout", 10)
        headers = kw.pop("headers", None)
        headers = self.h(key) if headers is None else headers
        return requests.post(self.url + path, headers=headers, json=body, **kw)

    def delete(self, path, key=None, **kw):
        kw.setdefault("timeout", 10)
        headers = kw.pop("headers", None)
        headers = self.h(key) if headers is None else headers
        return requests.delete(self.url + path, headers=headers, **kw)

    def create_key(self, key=None, **fields):
        fields.setdefault("name", "test")
        fields.setdefault("scopes", ["agents:read"])
        r = self.post("/agentd/v1/keys", fields, key=key)
        assert r.status_code == 201, r.text
        return r.json()


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(args=(), env=None, config=None, name="data"):
        s = Server(tmp_path / name, args=args, env=env, config=config)
        s.start()
        servers.append(s)
        return s

    yield make
    problems = []
    for s in servers:
        rc = s.stop()
        err = s.read_stderr()
        if rc != 0:
            problems.append(f"agentd exited {rc}: {err[-4000:]}")
        for marker in ("AddressSanitizer", "LeakSanitizer", "runtime error:"):
            if marker in err:
                problems.append(f"sanitizer report in agentd stderr: {err[-4000:]}")
    assert not problems, "\n".join(problems)


@pytest.fixture
def server(make_server):
    return make_server()


class FakeModel:
    def __init__(self):
        self.proc = subprocess.Popen([FAKEMODEL, "--listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            raise RuntimeError("fakemodel did not start")
        self.url = m.group(1)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="session")
def fakemodel():
    fm = FakeModel()
    yield fm
    fm.stop()


def engine_config(fm, **extra):
    """A server config with providers on the fake model server and the test scripts as
    custom agent commands."""
    py = "/usr/bin/python3"
    cfg = {
        "providers": {
            "fake": {"kind": "openai", "base_url": fm.url + "/v1", "max_retries": 2},
            "fakean": {"kind": "anthropic", "base_url": fm.url},
            "fakeplain": {"kind": "openai", "base_url": fm.url + "/v1", "stream": False},
            "down": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1", "max_retries": 1},
            "idle": {"kind": "openai", "base_url": fm.url + "/v1", "idle_timeout_s": 1,
                     "max_retries": 1},
        },
        "custom_agents": {
            "stream": {"command": [py, os.path.join(SCRIPTS, "stream_agent.py")]},
            "plain": {"command": [py, os.path.join(SCRIPTS, "plain_agent.py")]},
            "sleepy": {"command": [py, os.path.join(SCRIPTS, "sleepy_agent.py")],
                       "timeout_s": 2},
            "broken": {"command": [py, os.path.join(SCRIPTS, "broken_agent.py")]},
        },
        "prices": {"fake/echo": {"input": 1.0, "output": 2.0}},
        "shutdown_grace_s": 2,
    }
    cfg.update(extra)
    return cfg


@pytest.fixture
def engine(make_server, fakemodel):
    return make_server(config=engine_config(fakemodel))


def create_agent(server, key=None, **fields):
    fields.setdefault("name", "agent-" + str(time.time_ns()))
    r = server.post("/agentd/v1/agents", fields, key=key)
    assert r.status_code == 201, r.text
    return r.json()


def run(server, agent, body=None, wait=30, key=None, headers=None):
    """Executes synchronously (Prefer: wait) and returns the response."""
    h = server.h(key)
    h["Prefer"] = f"wait={wait}"
    h.update(headers or {})
    return server.post(f"/agentd/v1/agents/{agent}/executions",
                       body if body is not None else {"input": {"message": "hi"}},
                       headers=h, timeout=wait + 10)


def wait_terminal(server, exec_id, timeout=30, key=None):
    deadline = time.time() + timeout
    while time.time() < deadline:
        e = server.get(f"/agentd/v1/executions/{exec_id}", key=key).json()
        if e["status"] in ("completed", "failed", "cancelled", "rejected"):
            return e
        time.sleep(0.05)
    raise AssertionError(f"execution {exec_id} did not finish: {e}")


def parse_sse(text):
    """Splits a text/event-stream body into [{"id", "event", "data"}] (comments skipped)."""
    events = []
    for block in text.split("\n\n"):
        ev = {}
        for line in block.split("\n"):
            if line.startswith("id: "):
                ev["id"] = int(line[4:])
            elif line.startswith("event: "):
                ev["event"] = line[7:]
            elif line.startswith("data: "):
                ev["data"] = json.loads(line[6:])
        if ev:
            events.append(ev)
    return events
