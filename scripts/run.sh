#!/usr/bin/env bash
# `make run`: a local spa-auth on https://localhost:8443: spa-authd (which
# creates its signing key and JWKS), nginx with the module, a self-signed
# certificate and the demo service. State lives in
# .local/ (ignored by git); `make stop` stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state="$top/.local"
build="$top/build"

mkdir -p "$state"/{tls,logs,tmp,run}

echo "==> spa-authd configuration from conf/authd.toml ($state/authd.toml)"
mkdir -p "$state/authd"
sed -e "s|/run/spa-authd/|$state/run/|" \
    -e "s|/var/lib/spa-authd|$state/authd|g" \
    -e "s|/etc/spa-authd/|$state/authd/|" \
    conf/authd.toml > "$state/authd.toml"
"$build/spa-authd" --check-config --config "$state/authd.toml" > /dev/null

echo "==> self-signed TLS certificate for localhost ($state/tls)"
if [ ! -f "$state/tls/cert.pem" ]; then
  (umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
      -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
      -keyout "$state/tls/key.pem" -out "$state/tls/cert.pem" 2>/dev/null)
fi

echo "==> nginx configuration from conf/nginx.conf ($state/nginx.conf)"
user_line="user www-data;"
if [ "$(id -u)" -ne 0 ]; then user_line=""; else chown -R www-data "$state/tmp"; fi
sed -e "s|/usr/lib/nginx/modules/ngx_http_spa_auth_module.so|$build/ngx_http_spa_auth_module.so|" \
    -e "s|^user www-data;|$user_line|" \
    -e "s|/run/nginx.pid|$state/run/nginx.pid|" \
    -e "s|/var/log/nginx/|$state/logs/|g" \
    -e "s|/var/lib/nginx/|$state/tmp/|g" \
    -e "s|/var/lib/spa-authd/jwks.json|$state/authd/jwks.json|" \
    -e "s|/run/spa-authd/authd.sock|$state/run/authd.sock|" \
    -e "s|/etc/spa-auth/tls/|$state/tls/|g" \
    -e "s|/var/www/spa|$top/demo/spa|" \
    conf/nginx.conf > "$state/nginx.conf"

scripts/stop.sh --quiet || true

echo "==> spa-authd on $state/run/authd.sock (log: $state/logs/authd.log)"
nohup "$build/spa-authd" --config "$state/authd.toml" >> "$state/logs/authd.log" 2>&1 &
echo $! > "$state/run/authd.pid"
for _ in $(seq 1 100); do [ -S "$state/run/authd.sock" ] && [ -f "$state/authd/jwks.json" ] && break; sleep 0.05; done
[ -S "$state/run/authd.sock" ] || { echo "spa-authd did not start; see $state/logs/authd.log" >&2; exit 1; }
# nginx's workers reach the socket and read the JWKS.
[ "$(id -u)" -eq 0 ] && chgrp www-data "$state/run/authd.sock"

echo "==> demo service on 127.0.0.1:9101 (log: $state/logs/demo.log)"
nohup "$build/spa-demo-echo" --port 9101 > "$state/logs/demo.log" 2>&1 &
echo $! > "$state/run/demo.pid"

echo "==> nginx with ngx_http_spa_auth_module on https://localhost:8443 (log: $state/logs/error.log)"
nginx -p "$state" -c "$state/nginx.conf" -t -q
nginx -p "$state" -c "$state/nginx.conf"

for _ in $(seq 1 50); do
  curl -ksf -o /dev/null https://localhost:8443/ && break
  sleep 0.1
done

kid=$(perl -MJSON::PP -e 'local $/; my $s = decode_json(<STDIN>); print $s->{keys}[-1]{kid}' < "$state/authd/keys/keys.json")
mint="$build/spa-auth-mint token --key $state/authd/keys/$kid.pem --claims '{\"iss\":\"https://app.example.com\",\"aud\":\"spa\",\"sub\":\"u-dev\",\"email\":\"dev@example.com\",\"role\":\"user\",\"amr\":[\"pwd\"]}'"
cat <<MSG

spa-auth is running on https://localhost:8443 (stop it with 'make stop').

spa-authd publishes its keys at https://localhost:8443/api/v1/auth/jwks.json.
Mint a 15-minute dev token with spa-authd's signing key and call the
protected demo service:

  TOKEN=\$($mint)
  curl -sk https://localhost:8443/api/v1/demo/hello -H "Authorization: Bearer \$TOKEN"

Without a token the same call is refused:

  curl -sk -i https://localhost:8443/api/v1/demo/hello

MSG
