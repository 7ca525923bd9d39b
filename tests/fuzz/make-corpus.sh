#!/bin/bash
# Writes the seed corpora of tests/fuzz/corpus/ from the unit tests'
# vectors and tokens signed by tests/fuzz/keys/ (keys made for fuzzing
# only: they sign nothing anywhere else), beside the inputs fuzzing found
# (kept: each is also a unit test). Needs build/spa-auth-mint (`make`).
set -eu
cd "$(dirname "$0")"
mint=../../build/spa-auth-mint
out=corpus
mkdir -p "$out"/{jws,claims,jwks,fields,ws_frames,limiter,session_record,base64url,oidc,config,authd}
# A seed written here is seed-SHA1; the inputs fuzzing found are named by
# their SHA-1 alone, as libFuzzer names them, and are never removed.
find "$out" -name 'seed-*' -delete
seed() {
  local tmp
  tmp=$(mktemp)
  cat >"$tmp"
  mv "$tmp" "$out/$1/seed-$(sha1sum <"$tmp" | cut -c1-40)"
}

# jws: every algorithm, with and without kid, and the classic refusals.
printf 'fuzzing-secret-of-thirty-two-bytes!!' >/tmp/spa-fuzz-hmac
claims='{"sub":"alice","iss":"https://issuer.example","aud":"spa","role":"admin","amr":["pwd","otp"],"auth_time":1799999900,"iat":1799999900,"sid":"0123456789abcdef0123456789abcdef"}'
for k in ed25519:EdDSA es256:ES256 es384:ES384 rsa:RS256 rsa:PS256; do
  $mint token --key keys/${k%%:*}.pem --alg ${k##*:} --claims "$claims" --ttl 600 | seed jws
  $mint token --key keys/${k%%:*}.pem --alg ${k##*:} --no-kid --claims '{"sub":"bob"}' --ttl 60 | seed jws
done
$mint token --hmac-secret /tmp/spa-fuzz-hmac --alg HS256 --claims "$claims" --ttl 600 | seed jws
rm -f /tmp/spa-fuzz-hmac
printf 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhbGljZSJ9.' | seed jws
printf 'eyJhbGciOiJFZERTQSIsImNyaXQiOlsiYiJdfQ.e30.AAAA' | seed jws
printf 'a.b.c' | seed jws

# claims: 8 bytes of time (big-endian halves), then a payload.
t() { printf '\x00\x00\x00\x6b\x00\x00\x00\x00'; }
for p in "$claims" '{"sub":"a","exp":1}' '{"exp":1800000000,"nbf":1900000000}' \
         '{"exp":1800000000,"aud":["spa","x"],"groups":["ops","dev"],"role":"admin","amr":"otp"}' \
         '{"exp":1.5e9,"sub":"a\r\nX-Evil: 1"}' '{"exp":1800000000,"sub":"a","sub":"b"}'; do
  { t; printf '%s' "$p"; } | seed claims
done

# jwks: the fixed set, one key each, and RFC 8037 A.2's public key.
seed jwks <keys/jwks.json
printf '{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}' | seed jwks
printf '{"keys":[{"kty":"oct","k":"AAAA"}]}' | seed jwks
printf '{"keys":[]}' | seed jwks

# fields: a name line, then field lines.
printf '__Host-spa_at\n__Host-spa_at=eyJ.a.b; theme=dark\na=1, __Host-spa_at=x' | seed fields
printf 'app.example.com\nhttps://app.example.com\n' | seed fields
printf 'Host\nBearer eyJhbGciOiJFZERTQSJ9.e30.sig\nbearer, eyJ.x.y, chat\nwebsocket, Upgrade' | seed fields
printf 'x\n/p?code=abc&state=xyz&access_token=t;id_token=u&ok=1\nGET /cb?CODE%%3D=1&%%63ode=2 HTTP/1.1' | seed fields
printf 'X_User_Id\n"quoted, comma", WebSocket/13\n\xff\xfe\xc0\x80' | seed fields

# ws_frames: a cut seed byte, then frames (small, 16-bit and 64-bit lengths, masked).
printf '\x07\x81\x05hello\x88\x02\x03\xe8' | seed ws_frames
printf '\x03\x82\x7e\x00\x04abcd\x01\x80\x00' | seed ws_frames
printf '\x11\x81\x85\x01\x02\x03\x04abcde\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02xy' | seed ws_frames

# limiter: a limit, a period, a size, then (key, time) pairs.
printf '\x04\x02\x03\x05\x10\x05\x10\x05\x10\x05\x10\x05\x10\x06\x01\x07\xf0\x05\x00' | seed limiter
printf '\x00\x00\x00\x01\x01\x02\x05abcde\x01\x03\xe7\x03\x00' | seed limiter

# session_record: records as spa-authd writes them (version 1, 48 bytes,
# little-endian): state, the floor's delta, created 1.8e9, expires a week on.
rec() {
  printf "\\x01\\x$1\\x00\\x00$2"
  printf '\x00\xd2\x49\x6b\x00\x00\x00\x00\x80\x0c\x53\x6b\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
  printf '0123456789abcdef'
}
rec 00 '\x00\x00\x00\x00' | seed session_record
rec 01 '\x3c\x00\x00\x00' | seed session_record
rec 02 '\x10\x0e\x00\x00' | seed session_record

# base64url: RFC 7515's header and a few edges.
for s in eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9 AQAB _-8 'a=' ''; do printf '%s' "$s" | seed base64url; done
# oidc: a selector byte (0 discovery, 1 token response, 2 JWKS, 3 ID token
# after four bytes of time, 4 redirect target), then the provider's text.
printf '\x00{"issuer":"https://op.example","authorization_endpoint":"https://op.example/auth","token_endpoint":"https://op.example/token","jwks_uri":"https://op.example/jwks","response_types_supported":["code"],"code_challenge_methods_supported":["S256"],"id_token_signing_alg_values_supported":["EdDSA","RS256","ES256"],"token_endpoint_auth_methods_supported":["client_secret_basic","client_secret_post"],"authorization_response_iss_parameter_supported":true}' | seed oidc
printf '\x01{"access_token":"at","token_type":"Bearer","id_token":"eyJ.a.b","expires_in":3600}' | seed oidc
{ printf '\x02'; cat keys/jwks.json; } | seed oidc
now=$(date +%s)
le32() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8 & 255)))\\x$(printf %02x $(($1 >> 16 & 255)))\\x$(printf %02x $(($1 >> 24 & 255)))"; }
id='{"iss":"https://op.example","aud":"spa-client","azp":"spa-client","nonce":"n-0S6_WzA2Mj","sub":"248289761001","email":"a@example.com","email_verified":true}'
for k in ed25519:EdDSA es256:ES256 rsa:RS256; do
  { printf '\x03'; printf "$(le32 $now)"; $mint token --key keys/${k%%:*}.pem --alg ${k##*:} --claims "$id" --ttl 300; } | seed oidc
done
for r in /app '/app?x=1#y' //evil.example '/\evil.example' https://app.example.com/cb https://app.example.comx/ https://other.example.com; do
  { printf '\x04'; printf '%s' "$r"; } | seed oidc
done

# config: the shipped configuration and a few broken ones.
seed config <../../conf/authd.toml
printf '[tokens]\naccess_ttl = "15x"\n[store]\nmax_size = "1PiB"\n' | seed config
printf '[security]\nallowed_origins = ["https://a.example", "ftp://b"]\n[smtp]\nrecipient_limit = "0/1h"\n' | seed config
printf '[server\nsocket = 3\n' | seed config

# authd: "METHOD TARGET", header lines, an empty line, the body; @A@ @R@
# @S@ @U@ @O@ stand for the seeded session's access and refresh tokens,
# its session and user ids and the allowed Origin (fuzz_authd.cc).
j='Content-Type: application/json'
req() { printf '%s\n' "$@" | seed authd; }
req 'POST /api/v1/auth/signup' "$j" '' '{"email":"new@example.com","username":"new","password":"a long enough password"}'
req 'POST /api/v1/auth/login' "$j" 'X-Real-IP: 192.0.2.9' '' '{"email":"fuzz@example.com","password":"correct horse battery staple"}'
req 'POST /api/v1/auth/login' "$j" '' '{"email":"fuzz@example.com","password":"wrong","extra":[[[[{}]]]]}'
req 'POST /api/v1/auth/refresh' "$j" 'Origin: @O@' 'Cookie: __Secure-spa_rt=@R@' '' '{}'
req 'POST /api/v1/auth/refresh' "$j" '' '{"refresh_token":"@R@"}'
req 'POST /api/v1/auth/logout' 'Authorization: Bearer @A@' "$j" '' '{}'
req 'GET /api/v1/auth/me' 'Authorization: Bearer @A@' ''
req 'GET /api/v1/auth/me' 'Cookie: __Host-spa_at=@A@; __Host-spa_at=x' 'Origin: @O@' ''
req 'GET /api/v1/auth/sessions' 'Authorization: Bearer @A@' ''
req 'DELETE /api/v1/auth/sessions/@S@' 'Authorization: Bearer @A@' ''
req 'POST /api/v1/auth/password-reset/request' "$j" '' '{"email":"fuzz@example.com"}'
req 'POST /api/v1/auth/password-reset/confirm' "$j" '' '{"token":"AAAA","password":"another long password"}'
req 'POST /api/v1/auth/verify-email/request' "$j" '' '{"email":"fuzz@example.com"}'
req 'POST /api/v1/auth/verify-email/confirm' "$j" '' '{"token":"AAAA","password":"x"}'
req 'POST /api/v1/auth/reauthenticate' 'Authorization: Bearer @A@' "$j" '' '{"password":"correct horse battery staple"}'
req 'POST /api/v1/auth/password' 'Authorization: Bearer @A@' "$j" '' '{"password":"a new long password"}'
req 'POST /api/v1/mfa/setup' 'Authorization: Bearer @A@' "$j" '' '{"method":"totp"}'
req 'POST /api/v1/mfa/email-code' 'Authorization: Bearer @A@' "$j" '' '{}'
req 'GET /api/v1/mfa/status' 'Authorization: Bearer @A@' ''
req 'POST /api/v1/mfa/enable' 'Authorization: Bearer @A@' "$j" '' '{"code":"123456"}'
req 'POST /api/v1/mfa/disable' 'Authorization: Bearer @A@' "$j" '' '{"code":"123456","password":"x"}'
req 'POST /api/v1/mfa/backup-codes' 'Authorization: Bearer @A@' "$j" '' '{"code":"123456"}'
req 'POST /api/v1/mfa/verify' "$j" '' '{"mfa_token":"AAAA","code":"123456"}'
req 'POST /api/v1/mfa/verify-backup' "$j" '' '{"mfa_token":"AAAA","code":"abcdefgh"}'
req 'GET /api/v1/auth/export' 'Authorization: Bearer @A@' ''
req 'DELETE /api/v1/auth/account' 'Authorization: Bearer @A@' "$j" '' '{"password":"correct horse battery staple"}'
req 'GET /api/v1/admin/users?limit=5&cursor=x' 'Authorization: Bearer @A@' ''
req 'PATCH /api/v1/admin/users/@U@' 'Authorization: Bearer @A@' "$j" '' '{"role":"user","disabled":true}'
req 'GET /api/v1/oauth/corp/start?redirect_to=/account' ''
req 'GET /api/v1/oauth/corp/callback?code=c&state=s&iss=https%3A%2F%2Fidp.example.com' 'Cookie: __Host-spa_oauth=b' ''
req 'POST /api/v1/oauth/link' 'Authorization: Bearer @A@' "$j" '' '{"provider":"corp"}'
req 'POST /api/v1/oauth/unlink' 'Authorization: Bearer @A@' "$j" '' '{"provider":"corp"}'
req 'GET /health' ''
req 'GET /api/v1/auth/jwks.json' ''
req 'GET /metrics' ''
req 'POST /api/v1/auth/login' 'Transfer-Encoding: chunked' "$j" '' '5' '{"a":' '0' ''
req 'GET /api/v1/auth/me?x=%00' 'Authorization: Bearer @A@' 'Authorization: Bearer x' ''

echo "wrote $(find "$out" -type f | wc -l) seeds under tests/fuzz/$out/"
