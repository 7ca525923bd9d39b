#!/usr/bin/env bash
# Store size over BENCH_ROTATIONS (default 1,000,000) refresh rotations with
# the sweeper on (bench/store-bench.cc: the real AuthService and store on a
# fake clock). The store lives on /dev/shm when there is one: this measures
# size, not disk latency. Target: end / start close to 1 (flat).
# BENCH_NO_SWEEP=1 shows the contrast: the same run without the sweeper.
set -euo pipefail
cd "$(dirname "$0")/.."
base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
work=$(mktemp -d "$base/spa-store-bench-XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "==> store size over ${BENCH_ROTATIONS:-1000000} refresh rotations, sweeping every simulated 10 min ($base)"
build/spa-store-bench "$work" "${BENCH_ROTATIONS:-1000000}" "${BENCH_SESSIONS:-200}" ${BENCH_NO_SWEEP:+nosweep}
