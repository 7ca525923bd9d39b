#!/usr/bin/env bash
# `make run`: a local spa-auth on https://localhost:PORT: spa-authd (which
# creates its signing key and JWKS), nginx with the module, a self-signed
# certificate, a mail sink, a development OpenID provider and the demo
# services; then it prints a walk-through of curl commands for a new random
# user. `make stop` stops it, `make reset` also removes its state.
#
# Environment (the Makefile passes `make run NAME=...` on):
#   PORT=8443        HTTPS (nginx); the origin, redirect_uri and commands follow
#   DEMO_PORT=9101 OIDC_PORT=9102 WS_PORT=9103 SMTP_PORT=2525   loopback peers
#   PROFILE=development | production   development raises the rate limits
#   SPA_STATE=.local  where the configuration, store, keys, mail and logs live
#   SPA_BUILD=build   SPA_NGINX=nginx   (as the tests set them)
set -Eeuo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
state=${SPA_STATE:-$top/.local}
build=${SPA_BUILD:-$top/build}
nginx=${SPA_NGINX:-nginx}
port=${PORT:-8443}
demo_port=${DEMO_PORT:-9101}
oidc_port=${OIDC_PORT:-9102}
ws_port=${WS_PORT:-9103}
smtp_port=${SMTP_PORT:-2525}
profile=${PROFILE:-development}
base="https://localhost:$port"
# The state directory holds the signing keys, the store, mail with live
# links and the walk-through's cookie jar, and root writes and runs what is
# in it: it must be ours alone. Its real path (no link in it) is used from
# here on; that directory and every one above it must be ours or root's and
# writable by nobody else (a sticky /tmp is fine). A new one is made 0700.
# Others may not enter it; nginx's group may pass through it (0710) to the
# store and the socket, and read nothing else.
given=$(realpath -m -s -- "$state")  # absolute, ., .. and trailing slashes resolved, links kept
state=$(realpath -m -- "$state")
if [ "$given" != "$state" ]; then
  echo "spa-auth did not start: SPA_STATE=$given is, or is under, a symbolic link (to $state); name the real directory" >&2
  exit 1
fi
dir_safe() {  # DIR: ours or root's, and nobody else may write it (sticky excepted)
  local owner mode
  owner=$(stat -c %u -- "$1") mode=$(stat -c %a -- "$1") || return 1
  [ ! -L "$1" ] && { [ "$owner" = "$(id -u)" ] || [ "$owner" = 0 ]; } || return 1
  (( 8#$mode & 8#022 )) && ! (( 8#$mode & 8#1000 )) && return 1
  return 0
}
up=$(dirname "$state")
while :; do
  if [ -e "$up" ] && ! dir_safe "$up"; then
    echo "spa-auth did not start: $up, above SPA_STATE=$state, may be changed by another user" \
         "($(stat -c '%U, mode %a' -- "$up")); choose a state directory elsewhere" >&2
    exit 1
  fi
  [ "$up" = / ] && break
  up=$(dirname "$up")
done
if [ -e "$state" ]; then
  if [ ! -d "$state" ] || [ ! -O "$state" ] || (( 8#$(stat -c %a "$state") & 8#022 )); then
    echo "spa-auth did not start: SPA_STATE=$state is not a directory of yours that only you may write" \
         "($(stat -c '%U, mode %a' "$state")); choose another, or remove it" >&2
    exit 1
  fi
else
  mkdir -p "$(dirname "$state")" && (umask 077 && mkdir "$state")
fi
touch "$state/.spa-auth-state"  # what `make reset` looks for before it removes anything
if [ "$(id -u)" -eq 0 ]; then
  chgrp www-data "$state" && chmod 710 "$state"
  # nginx's workers reach the socket and the store through it.
  if ! runuser -u www-data -- test -x "$state"; then
    echo "spa-auth did not start: nginx's workers (www-data) cannot pass through a directory above $state" \
         "(one of mode 0700?); make it 0711 or 0755, or choose a state directory elsewhere" >&2
    exit 1
  fi
else
  chmod 700 "$state"
fi
# Mail (live links), logs, the certificate's key and the cookie jar: ours only.
mkdir -p "$state"/{mail,logs,tls,curl}
chmod 700 "$state"/{mail,logs,tls,curl}
export SPA_STATE=$state SPA_NGINX=$nginx SPA_BUILD=$build  # for stop.sh and adapt-conf.sh

# A start that fails stops whatever it had started and says why in one line.
failed=""
fail() {
  failed=1
  echo "spa-auth did not start: $*" >&2
  exit 1
}
on_exit() {
  local rc=$?
  [ "$rc" -eq 0 ] && return
  [ -n "$failed" ] || echo "spa-auth did not start: '$err_cmd' failed (exit $rc); logs in $state/logs/" >&2
  scripts/stop.sh --quiet || true
}
err_cmd=""
trap 'err_cmd=$BASH_COMMAND' ERR
trap on_exit EXIT

case $profile in
  development|dev) profile=development ;;
  production|prod) profile=production ;;
  *) fail "PROFILE=$profile: say PROFILE=development (the default) or PROFILE=production" ;;
esac
for p in "$port" "$demo_port" "$oidc_port" "$ws_port" "$smtp_port"; do
  if ! [[ $p =~ ^[0-9]+$ ]] || [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then fail "port '$p' is not a port number"; fi
done
[ "$(printf '%s\n' "$port" "$demo_port" "$oidc_port" "$ws_port" "$smtp_port" | sort -u | wc -l)" -eq 5 ] ||
  fail "PORT=$port DEMO_PORT=$demo_port OIDC_PORT=$oidc_port WS_PORT=$ws_port SMTP_PORT=$smtp_port: each needs its own port"

# A previous `make run` of this state directory gives its ports back first.
scripts/stop.sh --quiet || true

# "nginx (pid 123)" for a port someone listens on, "" for a free one.
port_holder() {
  local line
  if command -v ss > /dev/null; then
    line=$(ss -Hltnp "sport = :$1" 2>/dev/null | head -1)
    [ -n "$line" ] || return 0
    if [[ $line =~ users:\(\(\"([^\"]+)\",pid=([0-9]+) ]]; then
      echo "${BASH_REMATCH[1]} (pid ${BASH_REMATCH[2]})"
    else
      echo "another process"
    fi
  elif (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then
    echo "another process"
  fi
}
busy="" instead="" taken=" $port $demo_port $oidc_port $ws_port $smtp_port "
for entry in "PORT:$port:HTTPS" "DEMO_PORT:$demo_port:the demo service" "OIDC_PORT:$oidc_port:the OpenID provider" \
             "WS_PORT:$ws_port:the WebSocket service" "SMTP_PORT:$smtp_port:the mail sink"; do
  IFS=: read -r var p what <<< "$entry"
  holder=$(port_holder "$p")
  [ -n "$holder" ] || continue
  busy+="${busy:+; }port $p ($what, $var) is in use by $holder"
  # A free port to suggest instead: the next one nobody listens on.
  q=$((p + 1))
  while [[ $taken == *" $q "* ]] || [ -n "$(port_holder "$q")" ]; do q=$((q + 1)); done
  taken+="$q "
  instead+=" $var=$q"
done
[ -z "$busy" ] || fail "$busy; stop it, or choose other ports, e.g. make run$instead"

echo "==> profile $profile, state in $state"
echo "==> configuration from conf/ with local paths ($state/nginx.conf, $state/authd.toml)"
# The development certificate is made again when it has expired, expires
# within a day, or does not name localhost and 127.0.0.1.
cert="$state/tls/cert.pem"
if [ -f "$cert" ]; then
  why=""
  if ! openssl x509 -in "$cert" -noout -checkend 86400 > /dev/null 2>&1; then
    why="it expires within a day or has expired"
  elif ! san=$(openssl x509 -in "$cert" -noout -ext subjectAltName 2>/dev/null) ||
       ! grep -q 'DNS:localhost' <<< "$san" || ! grep -q 'IP Address:127.0.0.1' <<< "$san"; then
    why="its subjectAltName is not DNS:localhost, IP:127.0.0.1"
  fi
  if [ -n "$why" ]; then
    echo "==> renewing the TLS certificate: $why"
    rm -f "$cert" "$state/tls/key.pem"
  fi
fi
scripts/adapt-conf.sh "$state" "$port" "$demo_port" "$ws_port"
echo "==> self-signed TLS certificate for localhost ($cert, valid until $(openssl x509 -in "$cert" -noout -enddate | cut -d= -f2))"
# Mail (verification and password-reset links) goes to a local sink that writes files.
sed -i "s|^url = \"smtp://127.0.0.1:25\"|url = \"smtp://127.0.0.1:$smtp_port\"|" "$state/authd.toml"
# OAuth: a development OpenID provider on loopback (oidc-provider from npm,
# the one tests/nginx-t/018 signs in with), as provider "dev".
(umask 077 && printf 'dev provider secret\n' > "$state/authd/dev-oidc-secret")
cat >> "$state/authd.toml" <<TOML

[oauth.dev]
client_id = "spa-dev"
client_secret_file = "$state/authd/dev-oidc-secret"
redirect_uri = "$base/api/v1/oauth/dev/callback"
discovery = "http://127.0.0.1:$oidc_port/.well-known/openid-configuration"
TOML

# The development profile: limits generous enough to explore by hand (the
# way SpaAuth::Shipped's many_requests raises them for tests).
limits=$(grep -oE 'zone=[a-z_]+:[0-9a-z]+ rate=[0-9]+/[0-9a-z]+' "$state/nginx.conf" |
         sed -E 's/zone=([a-z_]+):[^ ]+ rate=/\1 /' | paste -sd, - | sed 's/,/, /g')
mail_limits=$(sed -nE 's/^(recipient|account)_limit = "([^"]+)".*/\2 per \1/p' "$state/authd.toml" | paste -sd, - | sed 's/,/, /g')
if [ "$profile" = development ]; then
  sed -i -E 's|( zone=[a-z_]+:[0-9a-z]+ rate=)[0-9]+/[0-9a-z]+;|\11000/1m;|' "$state/nginx.conf"
  sed -i -E 's|^recipient_limit = "[^"]+"|recipient_limit = "1000/1h"|; s|^account_limit = "[^"]+"|account_limit = "1000/1d"|' \
    "$state/authd.toml"
  # HSTS holds for a whole host, every port: two years of it for localhost
  # would send the developer's other http://localhost servers to https.
  # max-age=0 tells the browser to drop it; the header is still there to see.
  sed -i -E 's|(add_header Strict-Transport-Security ")max-age=[0-9]+; includeSubDomains"|\1max-age=0"|' "$state/nginx.conf"
  echo "==> development limits: nginx rate limits 1000/1m each (production: $limits);"
  echo "    mail 1000/1h per recipient, 1000/1d per account (production: $mail_limits);"
  echo "    unchanged: the lockout (5 wrong passwords lock an address for 60 s, doubling), require_verified_email,"
  echo "    admin_require_mfa. HSTS max-age=0 (production: 2 years), so no browser keeps it for localhost."
  echo "    The production limits and headers: make run PROFILE=production"
else
  echo "==> production limits (conf/): nginx $limits; mail $mail_limits;"
  echo "    the walk-through and the first administrator sign up or in 4 times from this address, and login"
  echo "    counts both: one round per 15 minutes. Exploring: make run (PROFILE=development)"
fi
"$build/spa-authd" --check-config --config "$state/authd.toml" > "$state/logs/check-config.log" 2>&1 ||
  fail "spa-authd refused $state/authd.toml: $(head -1 "$state/logs/check-config.log")"
jar="$state/curl/cookies.txt"
rm -f "$jar"

# Starts a background process, its pid in STATE/run/NAME.pid.
start() {
  local name=$1 log=$2
  shift 2
  nohup "$@" >> "$state/logs/$log" 2>&1 < /dev/null &
  # The pid and the process's start time (field 22 of /proc/PID/stat):
  # stop.sh stops the process only while both still match.
  echo "$! $(started_at $!)" > "$state/run/$name.pid"
}
started_at() { awk '{print $22}' "/proc/$1/stat" 2> /dev/null; }
# Waits up to 10 s for CHECK... to succeed while the process in
# STATE/run/NAME.pid lives.
wait_for() {
  local what=$1 name=$2 log=$3
  shift 3
  for _ in $(seq 1 200); do
    "$@" && return 0
    alive "$(cat "$state/run/$name.pid" 2> /dev/null)" ||
      fail "$what exited at once: $(tail -1 "$state/logs/$log") (log: $state/logs/$log)"
    sleep 0.05
  done
  fail "$what did not answer within 10 s (log: $state/logs/$log)"
}
# Running, and not a zombie waiting for its parent to collect it.
alive() {
  local stat
  stat=$(ps -o stat= -p "${1:-0}" 2> /dev/null) && [[ $stat != Z* ]]
}
listening() { (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; }
authd_ready() { [ -S "$state/run/authd.sock" ] && [ -f "$state/authd/jwks.json" ]; }

echo "==> spa-authd on $state/run/authd.sock (log: $state/logs/authd.log)"
start authd authd.log "$build/spa-authd" --config "$state/authd.toml"
wait_for spa-authd authd authd.log authd_ready
# nginx's workers (www-data) connect to the socket and register as LMDB
# readers; in production they share spa-authd's group (make install).
if [ "$(id -u)" -eq 0 ]; then
  chgrp www-data "$state/run/authd.sock"
  chgrp www-data "$state/authd" "$state/authd/data.mdb" "$state/authd/lock.mdb"
fi

echo "==> mail sink on 127.0.0.1:$smtp_port (messages in $state/mail/)"
perl -I tests/nginx-t/lib -MSpaAuth::SmtpSink -e '
  my (undef, $pid) = SpaAuth::SmtpSink::start($ARGV[0], $ARGV[2]);
  my $at = do { open my $st, "<", "/proc/$pid/stat"; (split " ", scalar <$st>)[21] // "" };
  open my $fh, ">", $ARGV[1] or die; print $fh "$pid $at\n";' "$state/mail" "$state/run/mail.pid" "$smtp_port" \
  < /dev/null > "$state/logs/mail.log" 2>&1 ||
  fail "the mail sink could not listen on 127.0.0.1:$smtp_port: $(tail -1 "$state/logs/mail.log")"

echo "==> development OpenID provider on http://127.0.0.1:$oidc_port (log: $state/logs/oidc.log)"
start oidc oidc.log node tests/peers/oidc-provider.mjs "$oidc_port" spa-dev 'dev provider secret' \
  "$base/api/v1/oauth/dev/callback"
wait_for "the OpenID provider" oidc oidc.log \
  curl -sf -o /dev/null "http://127.0.0.1:$oidc_port/.well-known/openid-configuration"

echo "==> demo WebSocket service on 127.0.0.1:$ws_port (log: $state/logs/ws.log)"
start ws ws.log node tests/peers/ws-service.mjs "$ws_port"
wait_for "the demo WebSocket service" ws ws.log listening "$ws_port"

echo "==> demo service on 127.0.0.1:$demo_port (log: $state/logs/demo.log)"
start demo demo.log "$build/spa-demo-echo" --port "$demo_port"
wait_for "the demo service" demo demo.log listening "$demo_port"

echo "==> nginx with ngx_http_spa_auth_module on $base (log: $state/logs/error.log)"
# nginx's complaint in one line, with who holds the port when it is a bind.
nginx_why() {
  local line p
  line=$(grep -m1 -E '\[(emerg|alert|crit)\]' <<< "$1" || head -1 <<< "$1")
  line=$(sed -E 's/^nginx: //; s|^[0-9/]+ [0-9:]+ ||; s/ [0-9]+#[0-9]+: / /' <<< "$line")
  if [[ $line =~ bind\(\)\ to\ [^\ ]*:([0-9]+)\ failed ]]; then
    p=${BASH_REMATCH[1]}
    line="$line; port $p is in use by $(port_holder "$p"), choose another: make run PORT=$((p + 1))"
  fi
  echo "$line"
}
out=$($nginx -p "$state" -c "$state/nginx.conf" -t -q 2>&1) || fail "nginx refused $state/nginx.conf: $(nginx_why "$out")"
out=$($nginx -p "$state" -c "$state/nginx.conf" 2>&1) || fail "nginx did not start: $(nginx_why "$out")"
[ -s "$state/run/nginx.pid" ] || fail "nginx did not start: no $state/run/nginx.pid (log: $state/logs/error.log)"
wait_for nginx nginx error.log curl -ksf -o /dev/null "$base/api/v1/auth/jwks.json"
trap - EXIT

# A new user for every start, so the walk-through works again and again.
user="dev-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
email="$user@example.com"
password="a long dev password"
where=""
[ "$state" = "$top/.local" ] || where=" SPA_STATE=$state"
cat <<MSG

spa-auth is running on $base (stop it with 'make stop$where', wipe its state with 'make reset$where').

==> in a browser: $base/ is the demo SPA (accept the self-signed certificate once)
  sign up, then open the link that was mailed (the newest: grep -ho 'https://[^ ]*#token=[^ ]*' $state/mail/*.eml | tail -1),
  log in, turn on 2FA under Security, call the services and open the WebSocket under
  Services, log in with the provider "dev"; the API reference is $base/api/docs/

==> walk-through: a browser session made of curl, as $email; paste the lines in order, in one shell
  # 0. curl as a browser: keeps the cookies spa-authd sets, sends this site's Origin, shows the status
  api() { curl -sk -b $jar -c $jar -H 'Origin: $base' -H 'Content-Type: application/json' -w ' -> %{http_code}\n' "\$@"; }
  # 1. sign up (201); spa-authd mails a link that proves the address
  api $base/api/v1/auth/signup -d '{"email":"$email","username":"$user","password":"$password"}'
  # 2. the link from the mail in $state/mail/, confirmed with the password (200)
  LINK=\$($top/scripts/mail-link.sh $state/mail $email verify-email)
  api $base/api/v1/auth/verify-email/confirm -d "{\\"token\\":\\"\$LINK\\",\\"password\\":\\"$password\\"}"
  # 3. log in (200): the session cookies land in the jar
  api $base/api/v1/auth/login -d '{"email":"$email","password":"$password"}'
  # 4. the demo service behind nginx sees who you are: X-User-Email and the other X-User-* headers (200)
  api $base/api/v1/demo/hello
  # 5. a new pair of tokens (200); the refresh token used here is dead now
  api -X POST $base/api/v1/auth/refresh
  # 6. a WebSocket with the access cookie: greeted as you, one message echoed; it stays open in the background
  node $top/tests/peers/ws-client.mjs --human --background --jar $jar wss://localhost:$port/ws/chat
  # 7. keep a copy of the access token, then log out (200): the session is revoked, and within
  #    10 s the socket above prints "[ws] closed 4401 session revoked" (nginx rechecks every 10 s)
  TOKEN=\$(awk '\$6=="__Host-spa_at" {print \$7}' $jar)
  api -X POST $base/api/v1/auth/logout
  # 8. the copied token, not expired yet, is refused at once (401 invalid_token)
  curl -sk -H "Authorization: Bearer \$TOKEN" -w ' -> %{http_code}\n' $base/api/v1/demo/hello
==> end of the walk-through; 'make run' again starts with a new user

==> the first administrator, after the walk-through (in the same shell; spa-authd keeps running)
  # 1. the role, written into the store by the command line
  $build/spa-authd users set-role $email admin --config $state/authd.toml
  # 2. /api/v1/admin/ also wants a session signed in with a second factor ([security] admin_require_mfa
  #    in authd.toml, spa_auth_require_mfa in nginx.conf): log in, set up TOTP (data.qr_svg is the QR
  #    code for an authenticator app) and enable it with a current code; keep a backup code
  api $base/api/v1/auth/login -d '{"email":"$email","password":"$password"}'
  SECRET=\$(api $base/api/v1/mfa/setup -d '{}' | grep -o '"secret":"[A-Z2-7]*"' | cut -d'"' -f4)
  BACKUP=\$(api $base/api/v1/mfa/enable -d "{\\"code\\":\\"\$(oathtool --totp -b \$SECRET)\\"}" | grep -o '"backup_codes":\["[^"]*' | cut -d'"' -f4)
  # 3. log in again: the password answers mfa_required with an mfa_token, the second factor ends the
  #    login (/api/v1/mfa/verify with a TOTP code; here a backup code: the TOTP code just used is spent)
  MFA=\$(api $base/api/v1/auth/login -d '{"email":"$email","password":"$password"}' | grep -o '"mfa_token":"[^"]*"' | cut -d'"' -f4)
  api $base/api/v1/mfa/verify-backup -d "{\\"mfa_token\\":\\"\$MFA\\",\\"code\\":\\"\$BACKUP\\"}"
  # 4. the administration API (200): the users, your role is admin
  api $base/api/v1/admin/users

==> more to try
  # a password reset by the mailed link (202, then 200): it ends every session; the new password signs in (200)
  api $base/api/v1/auth/password-reset/request -d '{"email":"$email"}'
  RESET=\$($top/scripts/mail-link.sh $state/mail $email reset-password)
  api $base/api/v1/auth/password-reset/confirm -d "{\\"token\\":\\"\$RESET\\",\\"password\\":\\"a new long dev password\\"}"
  api $base/api/v1/auth/login -d '{"email":"$email","password":"a new long dev password"}'
  # sign in with the development OpenID provider (any name, no password), in a browser:
  #   $base/api/v1/oauth/dev/start
  # keys: $base/api/v1/auth/jwks.json; logs: $state/logs/
MSG
