#!/usr/bin/env bash
# Benchmark driver for agentd (not part of the test run). Starts agentd (and the fake model
# server) on free loopback ports with temporary data directories, drives them with wrk, and
# writes the figures to bench/README.md. Every figure comes from one run of this script.
#
# usage: bench/run.sh [path/to/agentd] [path/to/fakemodel]
#   env: DURATION seconds per wrk phase (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/agentd}
FAKE=${2:-build/fakemodel}
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/agentd-bench-XXXXXX)
pid=""; fpid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$fpid" ] && kill -9 "$fpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

rps() { awk '/Requests\/sec:/ {print $2}' "$1"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }
# wrk prints latencies as 850.00us / 1.20ms / 2.00s; convert to microseconds
to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else print n * 1000000 }'; }
metric() { curl -s "$url/metrics" | awk -v m="$1" '$1 == m {print $2}'; }

"$FAKE" --listen 127.0.0.1:0 >"$work/fake.out" 2>&1 &
fpid=$!
for _ in $(seq 1 50); do grep -q listening "$work/fake.out" 2>/dev/null && break; sleep 0.1; done
fake_url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/fake.out")

# start_agentd NAME: a fresh server with its own data directory; sets url, pid, key
start_agentd() {
  local d="$work/srv-$1"
  mkdir -p "$d"
  cat >"$d.json" <<JSON
{"access_log": "off", "providers": {"fake": {"kind": "openai", "base_url": "$fake_url/v1"}}}
JSON
  "$BIN" serve --data-dir "$d/data" --listen 127.0.0.1:0 --config "$d.json" >"$d/out" 2>"$d/err" &
  pid=$!
  for _ in $(seq 1 100); do grep -q 'listening on' "$d/out" 2>/dev/null && break; sleep 0.1; done
  url=$(grep -o 'http://[0-9.]*:[0-9]*' "$d/out" | head -1)
  [ -n "$url" ] || { echo "bench: agentd did not start" >&2; cat "$d/err" >&2; exit 1; }
  key=$("$BIN" keys create --data-dir "$d/data" --name bench --scopes admin \
        --rate-limit 1000000000 2>/dev/null | tail -1)
  export AGENTD_BENCH_KEY=$key
}
stop_agentd() { kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""; }
agent() {  # agent NAME MODEL [LIMITS-JSON]
  curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$url/agentd/v1/agents" \
    -d "{\"name\": \"$1\", \"model\": \"$2\", \"limits\": ${3:-{\}}}" | grep -q 201
}

# ---- foundation ----
start_agentd foundation
echo "bench: /healthz ..." >&2
wrk -t2 -c64 -d"${DURATION}s" --latency "$url/healthz" >"$work/healthz"
echo "bench: GET /agentd/v1/me ..." >&2
wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $key" \
    "$url/agentd/v1/me" >"$work/me"
echo "bench: POST /agentd/v1/keys (durable writes) ..." >&2
wrk -t2 -c256 -d"${DURATION}s" --latency -s bench/post_key.lua "$url/agentd/v1/keys" >"$work/keys"
commits=$(metric agentd_store_commit_batch_size_count)
writes=$(metric agentd_store_commit_batch_size_sum)
non201=$(awk '/non-201 responses:/ {print $3}' "$work/keys")
stop_agentd

# ---- engine: accepted executions (an agent whose executions queue behind one at a time) ----
start_agentd accepted
agent queued "fake/hang" '{"max_concurrency": 1}'
echo "bench: POST executions, accepted (202) ..." >&2
BENCH_PATH=/agentd/v1/agents/queued/executions wrk -t2 -c256 -d"${DURATION}s" --latency \
    -s bench/exec_async.lua "$url" >"$work/accepted"
accepted_n=$(awk '/^accepted:/ {print $2}' "$work/accepted")
accepted_rps=$(awk -v n="$accepted_n" -v d="$DURATION" 'BEGIN {printf "%.0f", n / d}')
stop_agentd

# ---- engine: completed end to end, and the latency a synchronous call adds ----
start_agentd sync
agent fast "fake/echo"
echo "bench: synchronous executions (Prefer: wait), 64 connections ..." >&2
BENCH_PATH= wrk -t2 -c64 -d"${DURATION}s" --latency -s bench/exec_sync.lua \
    "$url/agentd/v1/agents/fast/executions" >"$work/sync64"
completed=$(metric 'agentd_executions_finished_total{status="completed"}')
echo "bench: synchronous executions, 1 connection ..." >&2
wrk -t1 -c1 -d"${DURATION}s" --latency -s bench/exec_sync.lua \
    "$url/agentd/v1/agents/fast/executions" >"$work/sync1"
echo "bench: the fake model alone, 1 connection ..." >&2
wrk -t1 -c1 -d"${DURATION}s" --latency -s bench/model_direct.lua \
    "$fake_url/v1/chat/completions" >"$work/model1"
stop_agentd

# ---- engine: 10,000 executions in flight against a model with 2 s latency ----
start_agentd inflight
agent slow "fake/delay=2000/echo"
echo "bench: 10,000 executions against a 2 s model ..." >&2
t0=$(date +%s.%N)
BENCH_LIMIT=5000 BENCH_PATH=/agentd/v1/agents/slow/executions wrk -t2 -c200 -d3s \
    -s bench/exec_async.lua "$url" >"$work/inflight"
submitted=$(awk '/^accepted:/ {print $2}' "$work/inflight")
while [ "$submitted" -lt 10000 ]; do   # wrk may stop a request short of its limit
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" \
         "$url/agentd/v1/agents/slow/executions" -d '{"input":{"message":"hello world"}}')
  [ "$code" = 202 ] && submitted=$((submitted + 1))
done
peak_running=0; finished=0
for _ in $(seq 1 600); do
  running=$(metric agentd_executions_running); finished=$(metric 'agentd_executions_finished_total{status="completed"}')
  [ "${running:-0}" -gt "$peak_running" ] && peak_running=$running
  [ "${finished:-0}" -ge "$submitted" ] && break
  sleep 0.1
done
t1=$(date +%s.%N)
failed=$(metric 'agentd_executions_finished_total{status="failed"}')
rss_kb=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
stop_agentd

# ---- the report ----
h=$(rps "$work/healthz"); m=$(rps "$work/me"); k=$(rps "$work/keys")
ratio=$(awk -v a="$m" -v b="$h" 'BEGIN {printf "%.2f", a / b}')
batch=$(awk -v w="$writes" -v c="$commits" 'BEGIN {if (c > 0) printf "%.1f", w / c; else print "n/a"}')
s64=$(rps "$work/sync64"); s1=$(rps "$work/sync1")
sp50=$(to_us "$(pct "$work/sync1" 50%)"); sp99=$(to_us "$(pct "$work/sync1" 99%)")
mp50=$(to_us "$(pct "$work/model1" 50%)"); mp99=$(to_us "$(pct "$work/model1" 99%)")
add50=$(awk -v a="$sp50" -v b="$mp50" 'BEGIN {printf "%.2f", (a - b) / 1000}')
add99=$(awk -v a="$sp99" -v b="$mp99" 'BEGIN {printf "%.2f", (a - b) / 1000}')
nonok=$(awk '/non-200 responses:/ {print $3}' "$work/sync64")
elapsed=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
rss_mb=$(awk -v k="$rss_kb" 'BEGIN {printf "%.0f", k / 1024}')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
date=$(date -u +%Y-%m-%d)

cat > bench/README.md <<MD
# agentd benchmarks

Run with \`make bench\` (or \`bench/run.sh [agentd] [fakemodel]\`). The driver starts agentd on
a free loopback port with a temporary data directory (SQLite, WAL, \`synchronous=FULL\`, access
log off), and the fake model server (\`tests/tools/fakemodel\`, the OpenAI protocol, streaming)
where a model is needed. \`wrk\` drives the load from the same machine, so the load generator,
the model server and agentd share its cores. Every figure below comes from one run of the
script, phase after phase (${DURATION} s per phase); each engine phase uses a fresh server.

Machine: 2 cores ($cpu), 24 GiB, Debian 12. Date: $date.

## Foundation

| measure | result | expectation |
|---|---|---|
| \`GET /healthz\` | $h req/s (p50 $(pct "$work/healthz" 50%), p99 $(pct "$work/healthz" 99%)) | |
| authenticated \`GET /agentd/v1/me\` | $m req/s (p50 $(pct "$work/me" 50%), p99 $(pct "$work/me" 99%)) | |
| ratio \`/me\` : \`/healthz\` | **$ratio** | at least 0.5 |
| durable writes (\`POST /agentd/v1/keys\`, 256 connections) | **$k writes/s** (p50 $(pct "$work/keys" 50%), p99 $(pct "$work/keys" 99%)) | at least 15,000/s |
| writes per commit (group commit) | $batch on average | |
| non-201 answers during the write phase | $non201 | 0 |

## Engine

| measure | result | expectation |
|---|---|---|
| accepted executions (durable 202, 256 connections) | **$accepted_rps /s** ($accepted_n in ${DURATION} s; p50 $(pct "$work/accepted" 50%), p99 $(pct "$work/accepted" 99%)) | at least 15,000/s |
| completed executions end to end, zero-latency model (\`Prefer: wait\`, 64 connections) | **$s64 /s** ($completed completed; p50 $(pct "$work/sync64" 50%), p99 $(pct "$work/sync64" 99%); non-200: $nonok) | at least 5,000/s |
| synchronous executions, 1 connection | $s1 /s, p50 $(pct "$work/sync1" 50%), p99 $(pct "$work/sync1" 99%) | |
| the model's own latency, 1 connection | p50 $(pct "$work/model1" 50%), p99 $(pct "$work/model1" 99%) | |
| latency agentd adds to a synchronous call | **p50 $add50 ms, p99 $add99 ms** | under 1 ms at p50 |
| 10,000 executions against a 2 s model | $submitted accepted, $finished completed, ${failed:-0} failed, in ${elapsed} s; peak in flight $peak_running | all complete |
| peak RSS with 10,000 in flight | **$rss_mb MB** | under 500 MB |

What the figures include: each accepted execution is a committed row, its first event and its
hand-off to the scheduler; each completed one adds the model call over HTTP (curl multi, the
OpenAI streaming protocol parsed as it arrives), its events (status, step, text, usage, done),
its trace step and its final state, all committed before the synchronous answer is sent. The
added latency compares a synchronous execution with the same request sent to the model server
directly; most of it is two \`fsync\`ed commits (the insert and the final state).
MD
cat bench/README.md
