#!/usr/bin/env bash
# Benchmark driver for agentd (not part of the test run). Starts agentd on a free loopback port
# with a temporary data directory, drives it with wrk, and writes the figures to
# bench/README.md. All figures of one table are measured in the same run, one after another.
#
# usage: bench/run.sh [path/to/agentd]   (env: DURATION seconds per phase, default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/agentd}
DURATION=${DURATION:-10}
command -v wrk >/dev/null || { echo "bench: wrk is missing (scripts/deps.sh installs it)" >&2; exit 1; }

work=$(mktemp -d /tmp/agentd-bench-XXXXXX)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

"$BIN" serve --data-dir "$work/data" --listen 127.0.0.1:0 --access-log off >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q 'listening on' "$work/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[0-9.]*:[0-9]*' "$work/out" | head -1)
[ -n "$url" ] || { echo "bench: agentd did not start" >&2; cat "$work/err" >&2; exit 1; }
key=$("$BIN" keys create --data-dir "$work/data" --name bench --scopes admin \
      --rate-limit 1000000000 2>/dev/null | tail -1)
export AGENTD_BENCH_KEY=$key

rps() { awk '/Requests\/sec:/ {print $2}' "$1"; }
pct() { awk -v p="$2" '$1 == p {print $2}' "$1"; }

echo "bench: /healthz ..." >&2
wrk -t2 -c64 -d"${DURATION}s" --latency "$url/healthz" >"$work/healthz"
echo "bench: GET /agentd/v1/me ..." >&2
wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $key" \
    "$url/agentd/v1/me" >"$work/me"
echo "bench: POST /agentd/v1/keys (durable writes) ..." >&2
wrk -t2 -c256 -d"${DURATION}s" --latency -s bench/post_key.lua "$url/agentd/v1/keys" >"$work/keys"

metrics=$(curl -s "$url/metrics")
commits=$(echo "$metrics" | awk '/^agentd_store_commit_batch_size_count/ {print $2}')
writes=$(echo "$metrics" | awk '/^agentd_store_commit_batch_size_sum/ {print $2}')
non201=$(awk '/non-201 responses:/ {print $3}' "$work/keys")

h=$(rps "$work/healthz"); m=$(rps "$work/me"); k=$(rps "$work/keys")
ratio=$(awk -v a="$m" -v b="$h" 'BEGIN {printf "%.2f", a / b}')
batch=$(awk -v w="$writes" -v c="$commits" 'BEGIN {if (c > 0) printf "%.1f", w / c; else print "n/a"}')
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
date=$(date -u +%Y-%m-%d)

cat > bench/README.md <<MD
# agentd benchmarks

Run with \`make bench\` (or \`bench/run.sh [binary]\`). The driver starts agentd on a free loopback
port with a temporary data directory (SQLite, WAL, \`synchronous=FULL\`), access log off, and
drives it with \`wrk\` (2 threads) on the same machine, so the load generator and the server share
its cores. Every figure below comes from one run, phase after phase (${DURATION} s each).

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

Each authenticated request reads its key and workspace from SQLite on the http thread's own
read connection (so a revocation takes effect at once), takes a token from the key's bucket and
notes its last-used time for the next batched write. Each durable write is acknowledged (201)
only after the transaction holding it has been committed with \`fsync\`; the writer thread
commits every queued write in one transaction.
MD
cat bench/README.md
