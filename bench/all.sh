#!/usr/bin/env bash
# `make bench`: one command, one run, one table (docs/BENCHMARKS.md).
#
# Starts on loopback, in a temp prefix: spa-authd (its Unix socket and LMDB
# store), the node + jose auth_request verifier (bench/jose-verifier.mjs),
# and two nginx instances of one worker each:
#   A  every nginx row but one (no session store)
#   B  the session-store row (`spa_auth_session_store` is http-wide, so every
#      spa_auth location of an nginx that has it checks the store)
# nginx's worker, spa-authd and the node verifier all run on CPU 0, wrk (one
# thread) on CPU 1: every nginx row, auth_request rows included, is what one
# server core does.
#
# Each nginx row is measured in BENCH_PAIRS alternating pairs (baseline run,
# row run; BENCH_SECONDS each) and its ratio is the median of the pairs'
# ratios; the rounds of pairs go through every row in turn, so slow drift on
# this shared machine falls on every row alike. p50/p99 are wrk --latency's,
# the median over the row's runs.
#
# Then: in-process EdDSA verification against `openssl speed ed25519`,
# spa-authd's durable refresh rotations/s and password logins/s on one core
# against Keycloak's published sizing, bench/websocket.sh, and
# bench/cluster.pl (spa-authd on PostgreSQL, one and two nodes, next to
# LMDB; the revocation propagation across two nodes).
#
# Output: the table on stdout and in $BENCH_OUT/table.txt, results.tsv (one
# line per row), runs.tsv (every wrk run), checks.tsv (the status codes the
# verifiers gave a good and a bad token); bench/chart.sh draws results.tsv.
# Not a test: no threshold is enforced (tests/nginx-t/055-bench-smoke.t
# checks that every row comes out).
#
# BENCH_SECONDS (4)    one wrk run of a pair
# BENCH_PAIRS (5)      pairs per nginx row
# BENCH_CONNECTIONS (50)
# BENCH_TOKENS (20000) fresh tokens per algorithm (cycled; > the cache)
# BENCH_AUTHD_SECONDS (10) refresh rotations, then as long for logins
# BENCH_SOCKETS (10000) WebSockets held (0: skip bench/websocket.sh)
# BENCH_CLUSTER (1)    0: skip bench/cluster.pl
# BENCH_PROPAGATION (100) logouts bench/cluster.pl measures across nodes
# BENCH_OUT (build/bench)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
top=$(pwd)
build=${SPA_BUILD:-$top/build}
secs=${BENCH_SECONDS:-4}
pairs=${BENCH_PAIRS:-5}
conns=${BENCH_CONNECTIONS:-50}
ntokens=${BENCH_TOKENS:-20000}
authd_secs=${BENCH_AUTHD_SECONDS:-10}
sockets=${BENCH_SOCKETS:-10000}
out=${BENCH_OUT:-$build/bench}
issuer="https://app.example.com"
audience="spa"
keycloak_logins=15    # Keycloak's sizing guide: password logins/s per vCPU
keycloak_refresh=120  # and refresh-token grants/s per vCPU
mkdir -p "$out"

work=$(mktemp -d /tmp/spa-bench-all-XXXXXX)
chmod 0755 "$work"
mkdir -p "$work"/{logs,tmp,html,a,b}
authd_pid="" node_pid=""
cleanup() {
  local c
  for c in a b; do
    [ -f "$work/$c/nginx.pid" ] && nginx -p "$work/$c" -c "$work/$c/nginx.conf" -s stop 2>/dev/null || true
  done
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "$authd_pid" ] && kill "$authd_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "${BENCH_KEEP:-}" ]; then echo "    (kept $work)" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() { echo "==> $*" >&2; }
free_port() {  # a random high port nothing listens on
  local p
  while :; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
  done
}
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
# Perl reads the field path as its argument; stdin is the JSON.
json_get() { perl -MJSON::PP -0e 'my $j = eval { decode_json(<STDIN>) } // {}; my $v = $j; $v = ref $v eq "HASH" ? $v->{$_} : undef for split /\./, $ARGV[0]; print $v // ""' "$1"; }
bad_token() {  # the same token with one signature character changed
  local t=$1 i c
  i=$(( ${#t} - 20 )); c=${t:$i:1}
  [ "$c" = A ] && c=B || c=A
  echo "${t:0:$i}$c${t:$((i + 1))}"
}

echo "small static file" > "$work/html/f.txt"
for d in plain cached fresh-eddsa fresh-es256 fresh-rs256 session limit1 limit3 ar-authd ar-node; do
  mkdir -p "$work/html/$d"; cp "$work/html/f.txt" "$work/html/$d/"
done

# --- spa-authd on CPU 0: a real user, a real access token whose session is
# in the store the module reads.
say "spa-authd on CPU 0"
bench_authd_config "$work" "$issuer" "$work/authd-jwks.json" "$audience" < /dev/null
bench_start_authd "$build/spa-authd" "$work" "$work/logs/authd.log"
authd_api() {  # METHOD PATH [JSON]
  curl -s --unix-socket "$work/authd.sock" -X "$1" -H 'Content-Type: application/json' ${3:+-d "$3"} "http://localhost$2"
}
authd_api POST /api/v1/auth/signup '{"email":"reader@example.com","username":"reader","password":"bench reader password"}' > /dev/null
access=$(authd_api POST /api/v1/auth/login '{"email":"reader@example.com","password":"bench reader password"}' | json_get data.access_token)
[ -n "$access" ] || { say "login failed"; cat "$work/logs/authd.log" >&2; exit 1; }
bad_access=$(bad_token "$access")

# --- keys and fresh tokens for the uncached rows (the tokens carry the same
# iss and aud as spa-authd's, and no sid: nginx A has no session store).
say "minting $ntokens fresh tokens each for EdDSA, ES256 and RS256"
openssl genpkey -algorithm ed25519 -out "$work/ed.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$work/es256.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$work/rs256.pem" 2>/dev/null
claims="{\"iss\":\"$issuer\",\"aud\":\"$audience\",\"sub\":\"bench\"}"
half=$(( (ntokens + 1) / 2 ))
for k in ed es256 rs256; do
  "$build/spa-auth-mint" jwks "$work/$k.pem" > "$work/$k-jwks.json"
  # Two minting processes (RSA signing is slow); nothing else runs yet.
  "$build/spa-auth-mint" token --key "$work/$k.pem" --ttl 7200 --claims "$claims" --count "$half" > "$work/$k-1.txt" &
  "$build/spa-auth-mint" token --key "$work/$k.pem" --ttl 7200 --claims "$claims" --count "$half" > "$work/$k-2.txt"
  wait $!
  cat "$work/$k-1.txt" "$work/$k-2.txt" > "$work/$k-tokens.txt"
done

# --- the node + jose verifier on CPU 0
# A port another process took between free_port and node's bind: node
# exits (EADDRINUSE) while the port answers (someone else's): a new port.
for attempt in 1 2 3 4 5; do
  node_port=$(free_port)
  say "node + jose verifier on CPU 0 (127.0.0.1:$node_port)"
  taskset -c 0 node bench/jose-verifier.mjs "$node_port" "$work/authd-jwks.json" "$issuer" "$audience" > "$work/logs/node.log" 2>&1 &
  node_pid=$!
  # Its own line says it listens (the port answering may be another process).
  for _ in $(seq 200); do
    grep -q 'listening on' "$work/logs/node.log" && break
    kill -0 "$node_pid" 2>/dev/null || break
    sleep 0.05
  done
  if grep -q 'listening on' "$work/logs/node.log"; then break; fi
  if grep -q EADDRINUSE "$work/logs/node.log" && [ "$attempt" -lt 5 ]; then
    wait "$node_pid" 2>/dev/null || true
    node_pid=""
    continue
  fi
  cat "$work/logs/node.log" >&2
  exit 1
done

# --- nginx A and B, one worker each on CPU 0
# The configurations, for ports chosen just before nginx binds them (the
# tests run beside other suites that take ports too).
write_confs() {
{ bench_nginx_main "$build" "$work/a" 01 4096; cat <<CONF
http {
    access_log off;
    client_body_temp_path $work/tmp;
    proxy_temp_path $work/tmp;
    spa_auth_jwks_file $work/authd-jwks.json;
    spa_auth_issuer $issuer;
    spa_auth_audience $audience;
    # 100,000 rotating keys need 13.2 MB at 132 bytes each; the rate never refuses.
    spa_auth_limit_zone \$http_x_key zone=z1:16m rate=1000/1s;
    spa_auth_limit_zone \$http_x_key zone=z2:16m rate=1000/1s;
    spa_auth_limit_zone \$http_x_key zone=z3:16m rate=1000/1s;
    upstream jose_verifier {
        server 127.0.0.1:$node_port;
        keepalive 64;  # the verifier's best case: no connection per request
    }
    server {
        listen 127.0.0.1:$port_a backlog=4096;
        root $work/html;
        # The baseline: no module work at all (pass_token: not even the
        # removal of token carriers).
        location /plain/ { spa_auth_pass_token on; }
        location /cached/ { spa_auth on; }
        location /fresh-eddsa/ { spa_auth on; spa_auth_jwks_file $work/ed-jwks.json; }
        location /fresh-es256/ { spa_auth on; spa_auth_jwks_file $work/es256-jwks.json; }
        location /fresh-rs256/ { spa_auth on; spa_auth_jwks_file $work/rs256-jwks.json; }
        location /limit1/ { spa_auth_pass_token on; spa_auth_limit zone=z1; }
        location /limit3/ { spa_auth_pass_token on; spa_auth_limit zone=z1; spa_auth_limit zone=z2; spa_auth_limit zone=z3; }
        # The auth_request pattern (oauth2-proxy, Authelia, hand-rolled):
        # nginx asks a verifier about every request. The module, loaded here,
        # is told to leave the token alone (nginx without it needs no such line).
        location /ar-authd/ { spa_auth_pass_token on; auth_request /.verify-authd; }
        location /ar-node/ { spa_auth_pass_token on; auth_request /.verify-node; }
        location = /.verify-authd {
            internal;
            spa_auth_pass_token on;
            proxy_pass http://unix:$work/authd.sock:/api/v1/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location = /.verify-node {
            internal;
            spa_auth_pass_token on;
            proxy_pass http://jose_verifier;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
        location = /status { spa_auth_status; }
    }
}
CONF
} > "$work/a/nginx.conf"
{ bench_nginx_main "$build" "$work/b" 01 4096; cat <<CONF
http {
    access_log off;
    client_body_temp_path $work/tmp;
    spa_auth_jwks_file $work/authd-jwks.json;
    spa_auth_issuer $issuer;
    spa_auth_audience $audience;
    spa_auth_session_store $work/store;
    server {
        listen 127.0.0.1:$port_b backlog=4096;
        root $work/html;
        location /plain/ { spa_auth_pass_token on; }
        location /session/ { spa_auth on; }
        location = /status { spa_auth_status; }
    }
}
CONF
} > "$work/b/nginx.conf"
}
# A port another process took between free_port and the bind: new ports, again.
for attempt in 1 2 3 4 5; do
  port_a=$(free_port)
  port_b=$(free_port)
  while [ "$port_b" = "$port_a" ]; do port_b=$(free_port); done
  rm -f "$work"/[ab]/error.log "$work"/[ab]/start.log
  write_confs
  started=""
  for c in a b; do
    nginx -p "$work/$c" -c "$work/$c/nginx.conf" 2>> "$work/$c/start.log" && started="$started $c" && continue
    for s in $started; do nginx -p "$work/$s" -c "$work/$s/nginx.conf" -s stop 2>/dev/null || true; done
    sleep 0.5
    grep -q "Address already in use" "$work/$c/error.log" "$work/$c/start.log" 2>/dev/null && [ "$attempt" -lt 5 ] && continue 2
    cat "$work/$c/error.log" "$work/$c/start.log" >&2
    exit 1
  done
  break
done
wait_port "$port_a"; wait_port "$port_b"
A="http://127.0.0.1:$port_a"
B="http://127.0.0.1:$port_b"

# --- what each verifier answers a good and a bad token (the smoke test reads
# checks.tsv: a row of req/s means nothing if it measured 401s).
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
: > "$out/checks.tsv"
check() {  # NAME EXPECTED curl-args...
  local name=$1 want=$2 got; shift 2
  got=$(status "$@")
  printf '%s\t%s\t%s\n' "$name" "$want" "$got" >> "$out/checks.tsv"
  [ "$got" = "$want" ] || say "CHECK FAILED: $name answered $got, not $want"
}
check authd_verify_good 204 --unix-socket "$work/authd.sock" -H "Authorization: Bearer $access" http://localhost/api/v1/auth/verify
check authd_verify_bad 401 --unix-socket "$work/authd.sock" -H "Authorization: Bearer $bad_access" http://localhost/api/v1/auth/verify
check node_verify_good 204 -H "Authorization: Bearer $access" "http://127.0.0.1:$node_port/"
check node_verify_bad 401 -H "Authorization: Bearer $bad_access" "http://127.0.0.1:$node_port/"
check node_verify_cookie 204 -H "Cookie: __Host-spa_at=$access" "http://127.0.0.1:$node_port/"
check plain 200 "$A/plain/f.txt"
check cached_good 200 -H "Authorization: Bearer $access" "$A/cached/f.txt"
check cached_bad 401 -H "Authorization: Bearer $bad_access" "$A/cached/f.txt"
for k in eddsa es256 rs256; do
  f=$k; [ "$k" = eddsa ] && f=ed
  t=$(head -1 "$work/$f-tokens.txt")
  check "fresh_${k}_good" 200 -H "Authorization: Bearer $t" "$A/fresh-$k/f.txt"
  check "fresh_${k}_bad" 401 -H "Authorization: Bearer $(bad_token "$t")" "$A/fresh-$k/f.txt"
done
check session_good 200 -H "Authorization: Bearer $access" "$B/session/f.txt"
check session_bad 401 -H "Authorization: Bearer $bad_access" "$B/session/f.txt"
check session_minted_no_sid 401 -H "Authorization: Bearer $(head -1 "$work/ed-tokens.txt")" "$B/session/f.txt"
check limit1 200 -H "X-Key: probe" "$A/limit1/f.txt"
check limit3 200 -H "X-Key: probe" "$A/limit3/f.txt"
check ar_authd_good 200 -H "Authorization: Bearer $access" "$A/ar-authd/f.txt"
check ar_authd_bad 401 -H "Authorization: Bearer $bad_access" "$A/ar-authd/f.txt"
check ar_node_good 200 -H "Authorization: Bearer $access" "$A/ar-node/f.txt"
check ar_node_bad 401 -H "Authorization: Bearer $bad_access" "$A/ar-node/f.txt"

# --- wrk: one run -> "rps p50_ms p99_ms non2xx errors"
wrk_run() {  # ENV SECONDS wrk-args...
  local e=$1 s=$2; shift 2
  env $e taskset -c 1 wrk -t1 -c"$conns" -d"${s}s" --latency "$@" 2>&1 | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ {p50 = ms($2)} /^ +99%/ {p99 = ms($2)}
    /Non-2xx or 3xx responses/ {bad = $NF}
    /Socket errors/ {gsub(/,/, ""); err = $4 + $6 + $8 + $10}
    /Requests\/sec/ {rps = $2}
    END {printf "%s %.3f %.3f %d %d\n", rps + 0, p50, p99, bad, err}'
}
# Row: NAME | what the row run sends | what its baseline run sends
# (the same request to /plain/, which does no module work at all: the
# token rows' baselines carry the same Authorization header, so both runs
# send and parse the same bytes; the limiter rows' baselines carry the same
# rotating X-Key header).
row_cmd() {  # NAME SIDE(base|row) -> the wrk arguments, one per line
  local bearer="Authorization: Bearer $access"
  case "$1:$2" in
    cached:base|ar_*:base) printf '%s\n' -H "$bearer" "$A/plain/f.txt" ;;
    fresh_*:base) printf '%s\n' "$A/plain/f.txt" ;;
    cached:row) printf '%s\n' -H "$bearer" "$A/cached/f.txt" ;;
    fresh_eddsa:row) printf '%s\n' -s bench/fresh-tokens.lua "$A" ;;
    fresh_es256:row) printf '%s\n' -s bench/fresh-tokens.lua "$A" ;;
    fresh_rs256:row) printf '%s\n' -s bench/fresh-tokens.lua "$A" ;;
    session:base) printf '%s\n' -H "$bearer" "$B/plain/f.txt" ;;
    session:row) printf '%s\n' -H "$bearer" "$B/session/f.txt" ;;
    limit*:base|limit*:row) printf '%s\n' -s bench/rotating-keys.lua "$A" ;;
    ar_authd:row) printf '%s\n' -H "$bearer" "$A/ar-authd/f.txt" ;;
    ar_node:row) printf '%s\n' -H "$bearer" "$A/ar-node/f.txt" ;;
  esac
}
row_env() {  # NAME SIDE -> env assignments for the wrk scripts
  case "$1:$2" in
    fresh_eddsa:row) echo "BENCH_PATH=/fresh-eddsa/f.txt TOKENS_FILE=$work/ed-tokens.txt" ;;
    fresh_es256:row) echo "BENCH_PATH=/fresh-es256/f.txt TOKENS_FILE=$work/es256-tokens.txt" ;;
    fresh_rs256:row) echo "BENCH_PATH=/fresh-rs256/f.txt TOKENS_FILE=$work/rs256-tokens.txt" ;;
    limit1:row) echo "BENCH_PATH=/limit1/f.txt" ;;
    limit3:row) echo "BENCH_PATH=/limit3/f.txt" ;;
    limit*:base) echo "BENCH_PATH=/plain/f.txt" ;;
    *) echo "BENCH_NONE=1" ;;
  esac
}
one_run() {  # NAME SIDE SECONDS
  local args=() e
  mapfile -t args < <(row_cmd "$1" "$2")
  e=$(row_env "$1" "$2")
  wrk_run "$e" "$3" "${args[@]}"
}
rows=(cached fresh_eddsa fresh_es256 fresh_rs256 session limit1 limit3 ar_authd ar_node)

say "warm-up: 1s of every row (node's JIT, the workers' pools)"
for r in "${rows[@]}"; do one_run "$r" row 1 > /dev/null; done
one_run cached base 1 > /dev/null
: > "$out/runs.tsv"
say "$pairs rounds of alternating pairs (baseline, row), ${secs}s each, $conns connections, wrk on CPU 1, server side on CPU 0"
for p in $(seq "$pairs"); do
  for r in "${rows[@]}"; do
    for side in base row; do
      printf '%s\t%s\t%s\t%s\n' "$r" "$p" "$side" "$(one_run "$r" "$side" "$secs" | tr ' ' '\t')" >> "$out/runs.tsv"
    done
  done
  say "round $p of $pairs done"
done
curl -s "$A/status" > "$work/status-a.txt"
errors_a=$(grep -c '\[error\]\|\[alert\]\|\[crit\]' "$work/a/error.log" || true)
errors_b=$(grep -c '\[error\]\|\[alert\]\|\[crit\]' "$work/b/error.log" || true)

# --- openssl speed and the in-process verifier (CPU 0)
say "openssl speed ed25519 / ecdsap256 / rsa2048 verify/s on CPU 0"
ossl() { taskset -c 0 openssl speed -seconds "$2" "$1" 2>/dev/null | awk -v pat="$3" '$0 ~ pat && $NF ~ /^[0-9.]+$/ {v = $NF} END {print v + 0}'; }
ossl_secs=$(( secs < 3 ? secs : 3 ))
ossl_ed=$(ossl ed25519 "$ossl_secs" 'Ed25519')
ossl_es=$(ossl ecdsap256 "$ossl_secs" 'nistp256')
ossl_rsa=$(ossl rsa2048 "$ossl_secs" '^rsa 2048')
say "in-process verify_access_token (EdDSA, no nginx) on CPU 0"
taskset -c 0 "$build/spa-verify-bench" "$work/ed.pem" "$work/ed-tokens.txt" > "$work/inproc.txt"
inproc=$(awk '/^verify_access_token\/s/ {print $2}' "$work/inproc.txt")
inproc_bare=$(awk '/^bare EVP Ed25519 verify\/s/ {print $NF}' "$work/inproc.txt")

# --- spa-authd: refresh rotations and password logins, CPU 0
say "spa-authd on CPU 0: ${authd_secs}s of refresh rotations (8 chains), then ${authd_secs}s of password logins (4 clients)"
taskset -c 1 "$build/spa-authd-bench" "$work/authd.sock" "$authd_secs" 8 20 "$authd_secs" 4 > "$work/authd-bench.txt" || {
  cat "$work/authd-bench.txt" >&2; exit 1; }
grep -v '^tsv' "$work/authd-bench.txt" | sed 's/^/    /' >&2
read -r _ _ refresh_rate refresh_p50 refresh_p99 _ refresh_failed <<< "$(grep -P '^tsv\trefresh\t' "$work/authd-bench.txt" | tr '\t' ' ')"
read -r _ _ login_rate login_p50 login_p99 _ login_failed <<< "$(grep -P '^tsv\tlogin\t' "$work/authd-bench.txt" | tr '\t' ' ')"
store_fs="$(df -T "$work" | awk 'NR==2 {print $2}')"
# What one synchronous commit costs here: 4 KiB writes, each followed by a
# data sync (an LMDB commit syncs twice: pages, then the meta page).
dsync_per_s=$(dd if=/dev/zero of="$work/dsync" bs=4k count=200 oflag=dsync 2>&1 | awk '/copied/ {for (i = 1; i <= NF; i++) if ($i ~ /^s,?$/) s = $(i - 1)} END {if (s > 0) printf "%.0f", 200 / s}')
argon2=$(perl -ne 'print "$1=$2 " if /uint32_t argon2_(memory_kib|iterations|parallelism) = (\d+);/' authd/config.h)

# --- WebSockets (bench/websocket.sh: its own nginx, two workers)
ws_auth="" ws_plain="" ws_held="" ws_added=""
if [ "$sockets" -gt 0 ]; then
  say "bench/websocket.sh with $sockets sockets"
  BENCH_SOCKETS=$sockets SPA_BUILD="$build" bench/websocket.sh > "$work/ws.txt" 2>&1 || { cat "$work/ws.txt" >&2; exit 1; }
  ws_plain=$(awk '/^proxy only/ {print $NF}' "$work/ws.txt")
  ws_auth=$(awk '/^spa_auth_websocket +[0-9]/ {print $NF}' "$work/ws.txt")
  ws_held=$(awk '/^spa_auth_websocket +[0-9]/ {print $(NF-2)}' "$work/ws.txt")
  ws_added=$(awk '/adds/ {print $3}' "$work/ws.txt")
fi

# --- spa-authd on PostgreSQL (bench/cluster.pl: nodes and a PostgreSQL of its own)
: > "$work/cluster.txt"
if [ "${BENCH_CLUSTER:-1}" != 0 ]; then
  say "bench/cluster.pl: spa-authd on PostgreSQL, one and two nodes, next to LMDB (${authd_secs}s a row)"
  BENCH_AUTHD_SECONDS=$authd_secs BENCH_PROPAGATION=${BENCH_PROPAGATION:-100} SPA_BUILD="$build" \
    bench/cluster.pl > "$work/cluster.txt" 2> "$work/cluster.log" || { cat "$work/cluster.log" >&2; exit 1; }
  sed 's/^/    /' "$work/cluster.log" >&2
fi

# --- the table
perl -w - "$out/runs.tsv" > "$out/results.tsv" <<PERL
use strict;
my (%runs, %pair);
open my \$fh, '<', \$ARGV[0] or die;
while (<\$fh>) {
    chomp;
    my (\$row, \$p, \$side, \$rps, \$p50, \$p99, \$bad, \$err) = split /\t/;
    push @{ \$runs{\$row}{\$side} }, [\$rps, \$p50, \$p99, \$bad, \$err];
    \$pair{\$row}{\$p}{\$side} = \$rps;
}
sub median { my @s = sort { \$a <=> \$b } @_; return 0 unless @s; @s % 2 ? \$s[\$#s / 2] : (\$s[@s / 2 - 1] + \$s[@s / 2]) / 2 }
sub col { my (\$list, \$i) = @_; map { \$_->[\$i] } @\$list }
sub sum { my \$t = 0; \$t += \$_ for @_; \$t }
my %label = (
    baseline => 'baseline: static file, no auth',
    cached => 'spa_auth, cached EdDSA token',
    fresh_eddsa => 'spa_auth, uncached EdDSA',
    fresh_es256 => 'spa_auth, uncached ES256',
    fresh_rs256 => 'spa_auth, uncached RS256',
    session => 'cached token + session store',
    limit1 => 'one limit zone',
    limit3 => 'three limit zones',
    ar_authd => 'auth_request -> spa-authd /verify',
    ar_node => 'auth_request -> node + jose',
);
my %target = (cached => 0.95, limit1 => 0.95);
my %ratio;
print join("\t", qw(row label value unit baseline ratio ratio_lo ratio_hi p50_ms p99_ms target met non2xx)), "\n";
# Baseline: every unkeyed baseline run of nginx A.
my @base = map { @{ \$runs{\$_}{base} } } grep { /^(cached|fresh_|ar_)/ } keys %runs;
printf "baseline\t%s\t%.0f\treq/s\t%.0f\t1.000\t1.000\t1.000\t%.3f\t%.3f\t-\t-\t%d\n", \$label{baseline},
    median(col(\\@base, 0)), median(col(\\@base, 0)), median(col(\\@base, 1)), median(col(\\@base, 2)),
    sum(col(\\@base, 3)) + sum(col(\\@base, 4));
for my \$row (qw(cached fresh_eddsa fresh_es256 fresh_rs256 session limit1 limit3 ar_authd ar_node)) {
    next unless \$runs{\$row};
    my @r = map { \$_->{row} / \$_->{base} } grep { \$_->{base} > 0 } values %{ \$pair{\$row} };
    my @sorted = sort { \$a <=> \$b } @r;
    my \$q = median(@r);
    \$ratio{\$row} = \$q;
    my \$t = \$target{\$row};
    printf "%s\t%s\t%.0f\treq/s\t%.0f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%s\t%s\t%d\n", \$row, \$label{\$row},
        median(col(\$runs{\$row}{row}, 0)), median(col(\$runs{\$row}{base}, 0)), \$q, \$sorted[0], \$sorted[-1],
        median(col(\$runs{\$row}{row}, 1)), median(col(\$runs{\$row}{row}, 2)),
        defined \$t ? ">= \$t" : '-', defined \$t ? (\$q >= \$t ? 'yes' : 'no') : '-',
        sum(col(\$runs{\$row}{row}, 3)) + sum(col(\$runs{\$row}{row}, 4));
}
# The comparisons the targets name: ratios of the rows' ratios to the same
# baseline (both measured against it in the same rounds).
for ([ar_node => 10, 'module (cached) / auth_request node + jose'], [ar_authd => 5, 'module (cached) / auth_request spa-authd']) {
    my (\$row, \$t, \$text) = @\$_;
    next unless \$ratio{\$row} && \$ratio{cached};
    my \$x = \$ratio{cached} / \$ratio{\$row};
    printf "cached_over_%s\t%s\t%.2f\tx\t-\t%.2f\t-\t-\t-\t-\t>= %d\t%s\t0\n", \$row, \$text, \$x, \$x, \$t, \$x >= \$t ? 'yes' : 'no';
}
my (\$ossl_ed, \$inproc, \$login, \$lp50, \$lp99, \$refresh, \$rp50, \$rp99) =
    ('$ossl_ed', '$inproc', '$login_rate', '$login_p50', '$login_p99', '$refresh_rate', '$refresh_p50', '$refresh_p99');
printf "inproc_eddsa\tin-process EdDSA verify vs openssl speed\t%.0f\tverify/s\t%.0f\t%.3f\t-\t-\t-\t-\t>= 0.9\t%s\t0\n",
    \$inproc, \$ossl_ed, \$inproc / \$ossl_ed, \$inproc / \$ossl_ed >= 0.9 ? 'yes' : 'no' if \$ossl_ed > 0;
printf "authd_login\tspa-authd password logins/s, 1 core (Keycloak: $keycloak_logins)\t%.1f\tlogins/s\t$keycloak_logins\t%.2f\t-\t-\t%.3f\t%.3f\t-\t-\t$login_failed\n",
    \$login, \$login / $keycloak_logins, \$lp50, \$lp99;
printf "authd_refresh\tspa-authd durable refreshes/s, 1 core (Keycloak: $keycloak_refresh)\t%.0f\trefreshes/s\t$keycloak_refresh\t%.2f\t-\t-\t%.3f\t%.3f\t>= 10\t%s\t$refresh_failed\n",
    \$refresh, \$refresh / $keycloak_refresh, \$rp50, \$rp99, \$refresh / $keycloak_refresh >= 10 ? 'yes' : 'no';
# bench/cluster.pl: "tsv ROW NAME PER_SECOND P50 P99 COUNT FAILED"; each
# PostgreSQL row against the LMDB one of the same run and conditions.
my %c;
if (open my \$cl, '<', '$work/cluster.txt') {
    while (<\$cl>) { chomp; my (undef, \$row, \$name, @v) = split /\t/; \$c{"\$row/\$name"} = \@v }
}
for ([refresh => 'refreshes/s', 'durable refreshes/s'], [login => 'logins/s', 'password logins/s']) {
    my (\$name, \$unit, \$text) = @\$_;
    my \$base = \$c{"lmdb/\$name"} or next;
    printf "cluster_lmdb_\$name\tspa-authd \$text, LMDB (the cluster rows' baseline)\t%.1f\t\$unit\t-\t1.000\t-\t-\t%.3f\t%.3f\t-\t-\t%d\n",
        \$base->[0], \$base->[1], \$base->[2], \$base->[4];
    for ([pg1 => 'one spa-authd'], [pg2 => 'two spa-authd']) {
        my (\$row, \$who) = @\$_;
        my \$v = \$c{"\$row/\$name"} or next;
        my \$target = \$name eq 'refresh' && \$row eq 'pg2' ? 1000 : undef;
        printf "cluster_\${row}_\$name\tspa-authd \$text, PostgreSQL, \$who\t%.1f\t\$unit\t%.1f\t%.3f\t-\t-\t%.3f\t%.3f\t%s\t%s\t%d\n",
            \$v->[0], \$base->[0], \$base->[0] > 0 ? \$v->[0] / \$base->[0] : 0, \$v->[1], \$v->[2],
            defined \$target ? ">= \$target" : '-', defined \$target ? (\$v->[0] >= \$target ? 'yes' : 'no') : '-', \$v->[4];
    }
}
if (my \$p = \$c{'pg2/propagation'}) {
    printf "cluster_propagation\trevocation on node A refused by node B's nginx (p99)\t%.3f\tms\t-\t-\t-\t-\t%.3f\t%.3f\t< 1000\t%s\t%d\n",
        \$p->[2], \$p->[1], \$p->[2], \$p->[2] < 1000 ? 'yes' : 'no', \$p->[4];
}
if ('$ws_held' ne '') {
    printf "ws_sockets\tWebSockets held (spa_auth_websocket)\t%d\tsockets\t$sockets\t%.3f\t-\t-\t-\t-\t-\t-\t%d\n", '$ws_held', '$ws_held' / $sockets, $sockets - '$ws_held';
    printf "ws_bytes\tbytes per idle socket added by the module\t%.0f\tB/socket\t-\t-\t-\t-\t-\t-\t< 2048\t%s\t0\n", '$ws_added', '$ws_added' < 2048 ? 'yes' : 'no';
}
PERL

{
  echo
  echo "make bench: $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), nginx $(nginx -v 2>&1 | sed 's|.*/||')"
  echo "nginx rows: $pairs alternating pairs of ${secs}s runs, $conns connections; 1 nginx worker + spa-authd + node verifier on CPU 0, wrk on CPU 1"
  echo
  awk -F'\t' '
    function fmt(v, u) { if (v == "-" || v == "") return "-"; return v }
    NR == 1 { printf "%-64s %12s %11s %7s %13s %9s %9s %8s %4s %6s\n", "row", "value", "baseline", "ratio", "ratio range", "p50 ms", "p99 ms", "target", "met", "errors"; next }
    { range = ($7 == "-" ? "-" : sprintf("%.3f-%.3f", $7, $8))
      printf "%-64s %12s %11s %7s %13s %9s %9s %8s %4s %6s\n", $2 " (" $4 ")", $3, $5, $6, range, $9, $10, $11, $12, $13 }' "$out/results.tsv"
  echo
  echo "ratio: nginx rows to the static-file baseline (median of the pairs' ratios); in-process to openssl speed ed25519;"
  echo "       spa-authd rows to Keycloak's per-vCPU sizing; 'errors': non-2xx answers + socket errors (login/refresh: failed requests)"
  echo "openssl speed verify/s on CPU 0: Ed25519 $ossl_ed, P-256 $ossl_es, RSA-2048 $ossl_rsa"
  awk -F'\t' -v ed="$ossl_ed" -v es="$ossl_es" -v rsa="$ossl_rsa" '
    $1 == "fresh_eddsa" {printf "nginx uncached EdDSA / openssl Ed25519 verify/s   = %.3f\n", $3 / ed}
    $1 == "fresh_es256" {printf "nginx uncached ES256 / openssl P-256 verify/s     = %.3f\n", $3 / es}
    $1 == "fresh_rs256" {printf "nginx uncached RS256 / openssl RSA-2048 verify/s  = %.3f\n", $3 / rsa}' "$out/results.tsv"
  echo "in-process: $(tr '\n' ';' < "$work/inproc.txt" | sed 's/  */ /g; s/;$//')"
  echo "spa-authd: Argon2id ${argon2}(spa-authd's defaults, authd/config.h); store on $store_fs, synchronous LMDB commits; O_DSYNC 4 KiB writes/s there: $dsync_per_s"
  [ -n "$ws_held" ] && echo "WebSockets ($sockets opened, bench/websocket.sh): proxy only $ws_plain B/socket, spa_auth_websocket $ws_auth B/socket"
  echo "nginx error log lines ([error]/[alert]/[crit]): A $errors_a, B $errors_b; checks: $(awk -F'\t' '$2 == $3 {ok++} END {print ok + 0}' "$out/checks.tsv")/$(wc -l < "$out/checks.tsv") status codes as expected"
} | tee "$out/table.txt"
