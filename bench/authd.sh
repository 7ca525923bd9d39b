#!/usr/bin/env bash
# spa-authd throughput: refresh-token rotations per second with durable
# commits, spa-authd pinned to one core (CPU 0) and the client on the other,
# and login latency with the default Argon2id parameters (19 MiB, t=2, p=1).
# Target: >= 1,000 rotations/s per core. Not a test: nothing is enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build="$(pwd)/build"
secs=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/spa-authd-bench-XXXXXX)
trap 'kill ${authd_pid:-} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
bench_authd_config "$work" "https://app.example.com" "$work/jwks.json" < /dev/null
bench_start_authd "$build/spa-authd" "$work" "$work/authd.log"
echo "==> spa-authd on CPU 0, ${secs}s of refresh rotations (8 chains), then 50 logins"
echo "    store: $(df -T "$work" | awk 'NR==2 {print $2}') on $(df "$work" | awk 'NR==2 {print $1}'), LMDB synchronous commits"
taskset -c 1 "$build/spa-authd-bench" "$work/authd.sock" "$secs" ${BENCH_CHAINS:-8} 50
