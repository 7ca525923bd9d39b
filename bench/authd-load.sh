#!/usr/bin/env bash
# Quick requests while slow work is in flight (docs/authd.md "Concurrency"):
# p50/p99 of refresh, logout and /me at spa-authd, and of the module's token
# check through nginx (spa_auth on, the session looked up in spa-authd's
# store), first unloaded, then with BENCH_LOGINS (500) clients each keeping
# a login in flight (Argon2, default parameters) and BENCH_CALLBACKS (64)
# each keeping an OAuth callback in flight to a provider whose token
# endpoint never answers (tests/nginx-t/lib/SpaAuth/HungProvider.pm).
# spa-authd is pinned to CPU 0, nginx and the clients to CPU 1. Prints the
# p99 ratios loaded / unloaded (target: close to 1). Not a test: nothing is
# enforced. BENCH_AUTHD=path runs another spa-authd binary (e.g. an older
# build, for contrast).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
top=$(pwd)
build="$top/build"
authd_bin=${BENCH_AUTHD:-$build/spa-authd}
samples=${BENCH_SAMPLES:-300}  # of each request, over BENCH_SECONDS (10) unloaded and as long loaded
work=$(mktemp -d /tmp/spa-authd-load-XXXXXX)
chmod 0755 "$work"
cleanup() {
  [ -n "${authd_pid:-}" ] && kill "$authd_pid" 2>/dev/null || true
  [ -n "${op_pid:-}" ] && kill "$op_pid" 2>/dev/null || true
  nginx -p "$work" -c "$work/nginx.conf" -s stop 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work"/{logs,tmp,html/protected}
echo "small static file" > "$work/html/protected/f.txt"

# The provider: answers discovery, never the token endpoint.
perl -I tests/nginx-t/lib -MSpaAuth::HungProvider -e \
  '$SIG{TERM} = sub { exit 0 }; $| = 1; my $op = SpaAuth::HungProvider->start; print "$op->{port}\n"; sleep' \
  > "$work/op.port" &
op_pid=$!
for _ in $(seq 1 100); do [ -s "$work/op.port" ] && break; sleep 0.05; done
op_port=$(cat "$work/op.port")
(umask 077 && echo "secret" > "$work/client-secret")

bench_authd_config "$work" "https://app.example.com" "$work/jwks.json" <<TOML
[oauth.hung]
client_id = "bench"
client_secret_file = "$work/client-secret"
redirect_uri = "https://localhost/api/v1/oauth/hung/callback"
discovery = "http://127.0.0.1:$op_port/.well-known/openid-configuration"
TOML
ulimit -n 4096 2>/dev/null || true
bench_start_authd "$authd_bin" "$work" "$work/authd.log"

port=$((20000 + RANDOM % 20000))
{ bench_nginx_main "$build" "$work" 10 1024; cat <<CONF; } > "$work/nginx.conf"
http {
    access_log off;
    client_body_temp_path $work/tmp;
    spa_auth_jwks_file $work/jwks.json;
    spa_auth_session_store $work/store;
    server {
        listen 127.0.0.1:$port;
        root $work/html;
        location /protected/ { spa_auth on; }
    }
}
CONF
nginx -p "$work" -c "$work/nginx.conf"
sleep 0.3

echo "==> spa-authd on CPU 0 ($(basename "$authd_bin")), nginx and clients on CPU 1; store on $(df -T "$work" | awk 'NR==2 {print $2}')"
taskset -c 1 "$build/spa-authd-load-bench" "$work/authd.sock" "$port" hung "$samples" "${BENCH_SECONDS:-10}" \
  "${BENCH_LOGINS:-500}" "${BENCH_CALLBACKS:-64}"
