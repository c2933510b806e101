#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running, testing and benchmarking agentd need.
# Idempotent: does nothing when everything is present. Needs root (or sudo) only when something
# is missing.
set -euo pipefail

pkgs=(
  build-essential pkg-config
  libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev libsqlite3-dev libssl-dev
  libcmocka-dev
  python3 python3-pytest python3-requests
  wrk curl
)

# Node.js runs the JavaScript client examples; any installed node (>= 18) will do
if ! command -v node >/dev/null 2>&1; then
  pkgs+=(nodejs)
fi

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
