#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and `make run` need.
# Idempotent: asks apt only when something is missing.
set -euo pipefail

packages=(
  g++ make pkg-config perl curl openssl ca-certificates
  nginx nginx-dev libssl-dev nlohmann-json3-dev libcpp-httplib-dev libtomlplusplus-dev
  liblmdb-dev libargon2-dev liboath-dev libqrencode-dev oathtool libcurl4-openssl-dev
  check wrk
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "    all ${#packages[@]} packages present"
  exit 0
fi

echo "    missing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "    run 'make deps' as root to install them" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's nginx package may start a system nginx on port 80; we never use it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
  systemctl stop nginx || true
fi
