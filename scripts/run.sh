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


echo "==> configuration from conf/ with local paths ($state/nginx.conf, $state/authd.toml)"
echo "==> self-signed TLS certificate for localhost ($state/tls)"
scripts/adapt-conf.sh "$state" 8443
# Mail (password-reset links) goes to a local sink that writes files.
sed -i "s|^url = \"smtp://127.0.0.1:25\"|url = \"smtp://127.0.0.1:2525\"|" "$state/authd.toml"
# OAuth: a development OpenID provider on loopback (oidc-provider from npm,
# the one tests/nginx-t/018 signs in with), as provider "dev".
(umask 077 && printf 'dev provider secret\n' > "$state/authd/dev-oidc-secret")
cat >> "$state/authd.toml" <<TOML

[oauth.dev]
client_id = "spa-dev"
client_secret_file = "$state/authd/dev-oidc-secret"
redirect_uri = "https://localhost:8443/api/v1/oauth/dev/callback"
discovery = "http://127.0.0.1:9102/.well-known/openid-configuration"
TOML
"$build/spa-authd" --check-config --config "$state/authd.toml" > /dev/null
rm -f "$state/cookies.txt"

scripts/stop.sh --quiet || true

echo "==> spa-authd on $state/run/authd.sock (log: $state/logs/authd.log)"
nohup "$build/spa-authd" --config "$state/authd.toml" >> "$state/logs/authd.log" 2>&1 &
echo $! > "$state/run/authd.pid"
for _ in $(seq 1 100); do [ -S "$state/run/authd.sock" ] && [ -f "$state/authd/jwks.json" ] && break; sleep 0.05; done
[ -S "$state/run/authd.sock" ] || { echo "spa-authd did not start; see $state/logs/authd.log" >&2; exit 1; }
# nginx's workers (www-data) connect to the socket and register as LMDB
# readers; in production they share spa-authd's group (make install).
if [ "$(id -u)" -eq 0 ]; then
  chgrp www-data "$state/run/authd.sock"
  chgrp www-data "$state/authd" "$state/authd/data.mdb" "$state/authd/lock.mdb"
fi

echo "==> mail sink on 127.0.0.1:2525 (messages in $state/mail/)"
perl -I tests/nginx-t/lib -MSpaAuth::SmtpSink -e '
  my (undef, $pid) = SpaAuth::SmtpSink::start($ARGV[0], 2525);
  open my $fh, ">", $ARGV[1] or die; print $fh "$pid\n";' "$state/mail" "$state/run/mail.pid" \
  < /dev/null > "$state/logs/mail.log" 2>&1

echo "==> development OpenID provider on http://127.0.0.1:9102 (log: $state/logs/oidc.log)"
nohup node tests/peers/oidc-provider.mjs 9102 spa-dev 'dev provider secret' \
  https://localhost:8443/api/v1/oauth/dev/callback >> "$state/logs/oidc.log" 2>&1 &
echo $! > "$state/run/oidc.pid"
for _ in $(seq 1 100); do
  curl -sf -o /dev/null http://127.0.0.1:9102/.well-known/openid-configuration && break
  sleep 0.1
done

echo "==> demo WebSocket service on 127.0.0.1:9103 (log: $state/logs/ws.log)"
nohup node tests/peers/ws-service.mjs 9103 >> "$state/logs/ws.log" 2>&1 &
echo $! > "$state/run/ws.pid"

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

jar="$state/cookies.txt"
api="curl -sk -b $jar -c $jar -H 'Origin: https://localhost:8443' -H 'Content-Type: application/json'"
cat <<MSG

spa-auth is running on https://localhost:8443 (stop it with 'make stop').
The browser flow, with curl keeping the cookies spa-authd sets:

  $api https://localhost:8443/api/v1/auth/signup -d '{"email":"dev@example.com","username":"dev","password":"a long dev password"}'
  # the address is proven by the link mailed to $state/mail/ (require_verified_email)
  LINK=\$(grep -ho 'verify-email#token=[A-Za-z0-9_-]*' $state/mail/*.eml | tail -1 | cut -d= -f2)
  $api https://localhost:8443/api/v1/auth/verify-email/confirm -d "{\\"token\\":\\"\$LINK\\",\\"password\\":\\"a long dev password\\"}"
  $api https://localhost:8443/api/v1/auth/login -d '{"email":"dev@example.com","password":"a long dev password"}'
  $api https://localhost:8443/api/v1/demo/hello          # the demo service sees X-User-* headers
  $api -X POST https://localhost:8443/api/v1/auth/refresh
  $api -X POST https://localhost:8443/api/v1/auth/logout
  $api -i https://localhost:8443/api/v1/demo/hello       # 401: the session is gone

  $api https://localhost:8443/api/v1/auth/password-reset/request -d '{"email":"dev@example.com"}'
                                                          # the link arrives in $state/mail/

  A WebSocket that greets the signed-in user and closes (4401) when the token
  expires or the session ends, with the cookie curl saved:
  TOKEN=\$(awk '\$6=="__Host-spa_at" {print \$7}' $jar)
  node tests/peers/ws-client.mjs "{\\"url\\":\\"wss://localhost:8443/ws/chat\\",\\"cookie\\":\\"__Host-spa_at=\$TOKEN\\",\\"send\\":[\\"hello\\"]}"

  Sign in with the development OpenID provider (any name, no password), in a browser:
  https://localhost:8443/api/v1/oauth/dev/start

Keys: https://localhost:8443/api/v1/auth/jwks.json. Logs: $state/logs/.
MSG
