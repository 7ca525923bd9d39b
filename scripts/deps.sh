#!/usr/bin/env bash
# Installs the Debian packages the build, the tests and `make run` need.
# Idempotent: asks apt only when something is missing.
set -euo pipefail

packages=(
  g++ make pkg-config perl curl openssl ca-certificates
  nginx nginx-dev libssl-dev nlohmann-json3-dev libcpp-httplib-dev libboost-dev libtomlplusplus-dev
  liblmdb-dev lmdb-utils libargon2-dev liboath-dev libqrencode-dev oathtool libcurl4-openssl-dev
  check wrk faketime chromium libyaml-libyaml-perl gnuplot-nox
  clang libclang-rt-14-dev
  prometheus  # promtool: checks and tests contrib/prometheus's alert rules (056)
  debhelper dpkg-dev lintian mmdebstrap man-db  # make deb, make test-deb (debian/, tests/deb/)
  postgresql libpq-dev  # the PostgreSQL store (issue 18): a private cluster per test (tests/nginx-t/lib/SpaAuth/Pg.pm)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$p")
done
# Node.js runs the tests' protocol peers (tests/peers). Any node/npm on the
# PATH will do (some machines have NodeSource's, which conflicts with
# Debian's npm package); Debian's when there is none.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "    all ${#packages[@]} Debian packages and node present"
else
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
fi

# The npm packages of tests/peers (protocol peers, playwright-core for the
# browser tests) and of demo/spa (TypeScript, Vite), exactly as their
# package-lock.json files pin them.
top="$(dirname "$0")/.."
for dir in tests/peers demo/spa; do
  if [ ! -f "$top/$dir/node_modules/.package-lock.json" ] || [ "$top/$dir/package-lock.json" -nt "$top/$dir/node_modules/.package-lock.json" ]; then
    echo "    installing $dir's packages from the npm registry ($dir/package-lock.json)"
    npm ci --prefix "$top/$dir" --no-audit --no-fund --loglevel=error
  else
    echo "    npm packages present ($dir/node_modules)"
  fi
done
