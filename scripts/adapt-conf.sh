#!/usr/bin/env bash
# Writes STATE/nginx.conf and STATE/authd.toml from conf/nginx.conf and
# conf/authd.toml with every production path moved under STATE, HTTPS on
# PORT. Used by `make run` (PORT 8443) and by the tests of the shipped
# configuration.
#   scripts/adapt-conf.sh STATE PORT [DEMO_PORT [WS_PORT]]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state=$1
port=$2
demo_port=${3:-9101}
ws_port=${4:-9103}
build="${SPA_BUILD:-$top/build}"  # build/san under SANITIZE=1
mkdir -p "$state"/{tls,logs,tmp,run,authd}

sed -e "s|/run/spa-authd/|$state/run/|" \
    -e "s|/var/lib/spa-authd|$state/authd|g" \
    -e "s|/etc/spa-authd/|$state/authd/|" \
    -e "s|https://app.example.com\"\\]|https://localhost:$port\"]|" \
    conf/authd.toml > "$state/authd.toml"

user_line="user www-data;"
[ "$(id -u)" -eq 0 ] || user_line=""
sed -e "s|/usr/lib/nginx/modules/ngx_http_spa_auth_module.so|$build/ngx_http_spa_auth_module.so|" \
    -e "s|^user www-data;|$user_line|" \
    -e "s|/run/nginx.pid|$state/run/nginx.pid|" \
    -e "s|/var/log/nginx/|$state/logs/|g" \
    -e "s|/var/lib/nginx/|$state/tmp/|g" \
    -e "s|/var/lib/spa-authd|$state/authd|g" \
    -e "s|/run/spa-authd/authd.sock|$state/run/authd.sock|" \
    -e "s|/etc/spa-auth/tls/|$state/tls/|g" \
    -e "s|/var/www/spa|$build/spa|" \
    -e "s|listen 8443 ssl http2;|listen 127.0.0.1:$port ssl http2;|" \
    -e "s|server 127.0.0.1:9101;|server 127.0.0.1:$demo_port;|" \
    -e "s|server 127.0.0.1:9103;|server 127.0.0.1:$ws_port;|" \
    conf/nginx.conf > "$state/nginx.conf"

if [ ! -f "$state/tls/cert.pem" ]; then
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$state/tls/key.pem" -out "$state/tls/cert.pem" 2>/dev/null)
fi
# nginx's temporary files: tmp/ stays root's (0755) and nginx makes body/
# and proxy/ in it for its workers at start. A tmp/ of www-data's would let
# www-data put a link there that the root master then chowns.
[ "$(id -u)" -ne 0 ] || chown root:root "$state/tmp"  # one an older make run gave www-data
chmod 755 "$state/tmp"
