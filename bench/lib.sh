# Sourced by the bench scripts that start a spa-authd of their own
# (all.sh, authd.sh, authd-load.sh).

# bench_authd_config WORK ISSUER JWKS [AUDIENCE]: writes WORK/authd.toml, a
# spa-authd on WORK/authd.sock with its store and keys under WORK, bearer
# tokens, no mail needed; TOML on stdin (more keys, sections) is appended.
bench_authd_config() {
  local work=$1 issuer=$2 jwks=$3 audience=${4:-spa}
  {
    cat <<TOML
[server]
socket = "$work/authd.sock"
[store]
path = "$work/store"
[tokens]
issuer = "$issuer"
audience = "$audience"
access_ttl = "2h"
key_dir = "$work/keys"
jwks_file = "$jwks"
mode = "bearer"
[security]
require_verified_email = false  # the bench's users have no mailbox
[mfa]
secret_key_file = "$work/mfa.key"
TOML
    [ -t 0 ] || cat
  } > "$work/authd.toml"
}

# bench_start_authd BINARY WORK LOG: starts it on CPU 0 with WORK/authd.toml,
# sets authd_pid, and waits for its socket and JWKS (its log on failure).
bench_start_authd() {
  local bin=$1 work=$2 log=$3 jwks
  jwks=$(sed -n 's/^jwks_file = "\(.*\)"/\1/p' "$work/authd.toml")
  taskset -c 0 "$bin" --config "$work/authd.toml" > "$log" 2>&1 &
  authd_pid=$!
  for _ in $(seq 200); do [ -S "$work/authd.sock" ] && [ -f "$jwks" ] && return 0; sleep 0.05; done
  echo "spa-authd did not start:" >&2
  cat "$log" >&2
  return 1
}

# bench_nginx_main BUILD DIR CPUMASK CONNECTIONS: the main context of a
# bench nginx (the module loaded, one worker pinned to CPUMASK, DIR/nginx.pid
# and DIR/error.log; root's workers stay root, or they could not read the
# bench's files); the script appends its http {} block.
bench_nginx_main() {
  local build=$1 dir=$2 mask=$3 connections=$4
  echo "load_module $build/ngx_http_spa_auth_module.so;"
  [ "$(id -u)" -eq 0 ] && echo "user root;"
  cat <<CONF
worker_processes 1;
worker_cpu_affinity $mask;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections $connections; }
CONF
}
