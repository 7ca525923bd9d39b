#!/usr/bin/env bash
# What one limit zone costs, split into counting and headers: one nginx
# worker on CPU 0, wrk on CPU 1, the same 100,000 rotating X-Key values
# (bench/rotating-keys.lua) against
#   /plain/  no limit
#   /limit1/ spa_auth_limit zone=z1            (counts, sends RateLimit headers)
#   /dry/    spa_auth_limit zone=z1 dry_run    (counts, sends no headers)
# in BENCH_ROUNDS (4) rounds of BENCH_SECONDS (3) s each. Prints req/s and
# each row's ratio to /plain/ of its round (docs/BENCHMARKS.md, "One limit
# zone"). Not a test: nothing is enforced.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
build=$(pwd)/build
secs=${BENCH_SECONDS:-3}
rounds=${BENCH_ROUNDS:-4}
work=$(mktemp -d /tmp/spa-limit-cost-XXXXXX)
chmod 0755 "$work"
trap 'nginx -p "$work" -c "$work/nginx.conf" -s stop 2>/dev/null || true; sleep 0.3; rm -rf "$work"' EXIT
mkdir -p "$work"/{logs,html/plain,html/limit1,html/dry}
for d in plain limit1 dry; do echo "small static file" > "$work/html/$d/f.txt"; done
port=$((20000 + RANDOM % 20000))
{ bench_nginx_main "$build" "$work" 01 4096; cat <<CONF; } > "$work/nginx.conf"
http {
    access_log off;
    spa_auth_limit_zone \$http_x_key zone=z1:16m rate=1000/1s;
    server {
        listen 127.0.0.1:$port;
        root $work/html;
        location /plain/ { spa_auth_pass_token on; }
        location /limit1/ { spa_auth_pass_token on; spa_auth_limit zone=z1; }
        location /dry/ { spa_auth_pass_token on; spa_auth_limit zone=z1 dry_run; }
    }
}
CONF
nginx -p "$work" -c "$work/nginx.conf"
sleep 0.3
echo "==> /plain/, /limit1/, /dry/: $rounds rounds of ${secs}s, 50 connections, wrk on CPU 1, nginx on CPU 0"
for round in $(seq "$rounds"); do
  line="round $round:"
  plain=0
  for p in plain limit1 dry; do
    r=$(BENCH_PATH=/$p/f.txt taskset -c 1 wrk -t1 -c50 -d"${secs}s" -s bench/rotating-keys.lua "http://127.0.0.1:$port/" |
        awk '/Requests\/sec/ {print $2}')
    [ "$p" = plain ] && plain=$r
    line="$line  $p $r"
    [ "$p" != plain ] && line="$line ($(awk -v a="$r" -v b="$plain" 'BEGIN {printf "%.3f", a / b}'))"
  done
  echo "$line"
done
