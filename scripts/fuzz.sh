#!/bin/bash
# Runs libFuzzer targets (build/fuzz/fuzz_NAME) for SECONDS each, on their
# seed corpus (tests/fuzz/corpus/NAME/, read only) plus what earlier runs
# found (build/fuzz/corpus/NAME/), and prints one line per target with its
# executions. A crash, leak, sanitizer report or failed property stops
# that target; its input is kept as build/fuzz/crash-NAME-*, and the run
# fails after the others have run. Usage: scripts/fuzz.sh SECONDS NAME...
set -u
seconds=$1
shift
cd "$(dirname "$0")/.."
failed=()
echo "==> fuzzing: ${seconds}s per target ($*)"
printf '%-16s %14s %10s  %s\n' target executions exec/s result
for t in "$@"; do
  bin=build/fuzz/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  work=build/fuzz/corpus/$t
  log=build/fuzz/$t.log
  mkdir -p "$work"
  [ -d "$seeds" ] || { echo "fuzz: $seeds is missing (every target has a seed corpus)"; failed+=("$t"); continue; }
  "$bin" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 -max_len=20000 \
    -artifact_prefix="build/fuzz/crash-$t-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    printf '%-16s %14s %10s  %s\n' "$t" "${runs:-?}" "${rate:-?}" ok
  else
    printf '%-16s %14s %10s  %s\n' "$t" "${runs:-?}" "${rate:-?}" "FAILED (exit $rc, $log)"
    grep -E 'ERROR|runtime error|property failed|Test unit written' "$log" | head -5 | sed 's/^/    /'
    failed+=("$t")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "==> fuzzing failed: ${failed[*]} (turn each crash into a unit test and a corpus file: docs/testing.md)"
  exit 1
fi
echo "==> fuzzing passed"
