#!/usr/bin/env bash
# spa-authd throughput: refresh-token rotations per second with durable
# commits, spa-authd pinned to one core (CPU 0) and the client on the other,
# and login latency with the default Argon2id parameters (19 MiB, t=2, p=1).
# Target: >= 1,000 rotations/s per core. Not a test: nothing is enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
build="$(pwd)/build"
secs=${BENCH_SECONDS:-10}
work=$(mktemp -d /tmp/spa-authd-bench-XXXXXX)
trap 'kill $pid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/authd.toml" <<TOML
[server]
socket = "$work/authd.sock"
[store]
path = "$work/store"
[tokens]
issuer = "https://app.example.com"
key_dir = "$work/keys"
jwks_file = "$work/jwks.json"
mode = "bearer"
[security]
require_verified_email = false  # the bench's users have no mailbox
[mfa]
secret_key_file = "$work/mfa.key"
TOML
taskset -c 0 "$build/spa-authd" --config "$work/authd.toml" > "$work/authd.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do [ -S "$work/authd.sock" ] && break; sleep 0.05; done
echo "==> spa-authd on CPU 0, ${secs}s of refresh rotations (8 chains), then 50 logins"
echo "    store: $(df -T "$work" | awk 'NR==2 {print $2}') on $(df "$work" | awk 'NR==2 {print $1}'), LMDB synchronous commits"
taskset -c 1 "$build/spa-authd-bench" "$work/authd.sock" "$secs" ${BENCH_CHAINS:-8} 50
