#!/usr/bin/env bash
# WebSocket memory: how much an idle authorized socket costs the nginx worker
# above what nginx itself spends on a proxied WebSocket, and whether one
# worker holds 10,000 of them. Same run, same upstream (tests/peers/ws-service.mjs),
# same client (tests/peers/ws-client.mjs, the `ws` library):
#   /plain/  proxy only (Upgrade/Connection written by hand)  -> nginx's own cost
#   /auth/   spa_auth on + spa_auth_websocket on               -> ours on top
# Each side gets a fresh nginx with two workers (one per core; each socket
# costs a worker two descriptors, and this container allows 20,000 per
# process); the workers' RSS is read before the sockets open and while they
# are held. Target: (auth - plain) / socket < 2 KiB.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
build="$top/build"
sockets=${BENCH_SOCKETS:-10000}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /tmp/spa-wsbench-XXXXXX)
chmod 0755 "$work"
mkdir -p "$work"/{logs,tmp}
cleanup() {
  [ -f "$work/nginx.pid" ] && nginx -p "$work" -c "$work/nginx.conf" -s stop 2>/dev/null || true
  [ -n "${svc:-}" ] && kill "$svc" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

openssl genpkey -algorithm ed25519 -out "$work/key.pem" 2>/dev/null
"$build/spa-auth-mint" jwks "$work/key.pem" > "$work/jwks.json"
token=$("$build/spa-auth-mint" token --key "$work/key.pem" --ttl 3600 --claims '{"sub":"bench"}')
port=$((20000 + RANDOM % 20000))
ws_port=$((port + 1))
user_line=""; [ "$(id -u)" -eq 0 ] && user_line="user root;"

node tests/peers/ws-service.mjs "$ws_port" > "$work/logs/ws.log" 2>&1 &
svc=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$ws_port) 2>/dev/null && break; sleep 0.05; done

cat > "$work/nginx.conf" <<CONF
load_module $build/ngx_http_spa_auth_module.so;
$user_line
worker_processes 2;
pid $work/nginx.pid;
error_log $work/logs/error.log warn;
events { worker_connections 12000; }
http {
    access_log off;
    client_body_temp_path $work/tmp;
    spa_auth_jwks_file $work/jwks.json;
    server {
        listen 127.0.0.1:$port backlog=4096 reuseport;
        location /plain/ {
            proxy_pass http://127.0.0.1:$ws_port;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection upgrade;
            proxy_read_timeout 1h;
        }
        location /auth/ {
            spa_auth on;
            spa_auth_websocket on;
            proxy_pass http://127.0.0.1:$ws_port;
            proxy_read_timeout 1h;
        }
    }
}
CONF

rss_kib() {  # both workers
  local total=0 w
  for w in $(pgrep -f 'nginx: worker process' -P "$(cat "$work/nginx.pid")"); do
    total=$((total + $(awk '/^VmRSS/ {print $2}' "/proc/$w/status")))
  done
  echo "$total"
}

measure() {  # path -> "rss_before rss_held greeted failed"
  nginx -p "$work" -c "$work/nginx.conf"
  sleep 0.3
  # Warm the worker (pools, token cache) with a few sockets first.
  node tests/peers/ws-client.mjs "{\"url\":\"ws://127.0.0.1:$port$1x\",\"cookie\":\"__Host-spa_at=$token\",\"sockets\":20}" > /dev/null
  local before held out
  before=$(rss_kib)
  node tests/peers/ws-client.mjs "{\"url\":\"ws://127.0.0.1:$port$1x\",\"cookie\":\"__Host-spa_at=$token\",\"sockets\":$sockets,\"hold_ms\":3000,\"rss_file\":\"$work/held\"}" > "$work/out.json" &
  local client=$!
  # Read the worker's RSS while every socket is open and idle.
  for _ in $(seq 600); do [ -f "$work/held" ] && break; sleep 0.05; done
  held=$(rss_kib)
  wait "$client"
  out=$(cat "$work/out.json")
  nginx -p "$work" -c "$work/nginx.conf" -s stop
  for _ in $(seq 100); do [ -f "$work/nginx.pid" ] || break; sleep 0.05; done
  rm -f "$work/held"
  echo "$before $held $(echo "$out" | sed -E 's/.*"greeted":([0-9]+).*"failed":([0-9]+).*/\1 \2/')"
}

echo "==> $sockets idle WebSockets through nginx (2 workers), proxy only"
read -r p_before p_held p_greeted p_failed <<< "$(measure /plain/)"
echo "==> $sockets idle WebSockets through nginx (2 workers), spa_auth_websocket"
read -r a_before a_held a_greeted a_failed <<< "$(measure /auth/)"

awk -v n="$sockets" -v pb="$p_before" -v ph="$p_held" -v pg="$p_greeted" -v pf="$p_failed" \
    -v ab="$a_before" -v ah="$a_held" -v ag="$a_greeted" -v af="$a_failed" 'BEGIN {
  p = (ph - pb) * 1024 / n; a = (ah - ab) * 1024 / n
  printf "\n%-40s %10s %10s %10s\n", "", "greeted", "failed", "B/socket"
  printf "%-40s %10d %10d %10.0f\n", "proxy only (nginx itself)", pg, pf, p
  printf "%-40s %10d %10d %10.0f\n", "spa_auth_websocket", ag, af, a
  printf "\nspa_auth_websocket adds %.0f bytes per idle socket (target < 2048); %d sockets held\n", a - p, ag
}'
