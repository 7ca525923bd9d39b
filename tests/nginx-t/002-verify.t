# Every algorithm verifies; every $spa_auth_result value is reached with the
# status, WWW-Authenticate header (RFC 6750 / RFC 9470) and JSON envelope a
# client relies on.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== EdDSA token is accepted
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed') }}
--- error_code: 200
--- response_headers
X-Result: ok
--- response_body
ok

=== ES256 token is accepted
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'es256') }}
--- error_code: 200

=== ES384 token is accepted when allowed
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms ES384;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'es384') }}
--- error_code: 200

=== RS256 token is accepted
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'rsa') }}
--- error_code: 200

=== PS256 token is accepted
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'rsa', alg => 'PS256') }}
--- error_code: 200

=== missing token: 401 without error attributes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa"
Content-Type: application/json
Cache-Control: no-store
X-Result: missing
--- response_body_like
^\{"success":false,"error":\{"code":"missing_token","message":"no access token"\},"meta":\{"timestamp":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ","version":"v1","requestId":"[0-9a-f]{32}"\}\}$

=== malformed token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer not-a-jwt
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token is malformed"
X-Result: malformed
--- response_body_like
"code":"invalid_token","message":"token is malformed"
--- error_log
spa_auth: token rejected: malformed (not three dot-separated parts)
--- no_error_log
not-a-jwt

=== bad signature
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ flip_sig(mint(key => 'ed')) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token signature is invalid"
X-Result: bad_signature

=== signed by a stranger claiming our kid
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'stranger', kid => kid_of('ed')) }}
--- error_code: 401
--- response_headers
X-Result: bad_signature

=== unknown kid
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'stranger') }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token signing key is unknown"
X-Result: unknown_kid

=== no kid and more than one key fits: unknown_kid
--- http_config
spa_auth_jwks_file @DIR@/two-ed.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- main_config
{{ write_file(SpaAuth::Test::prefix() . '/two-ed.json', jwks_for('ed', 'ed2')); '' }}
--- more_headers
Authorization: Bearer {{ mint(key => 'ed', no_kid => 1) }}
--- error_code: 401
--- response_headers
X-Result: unknown_kid

=== no kid and exactly one key fits: accepted
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed', no_kid => 1) }}
--- error_code: 200
--- response_headers
X-Result: ok

=== expired token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -60) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token expired"
X-Result: expired

=== token not yet valid
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { nbf => time + 3600 }, ttl => 7200) }}
--- error_code: 401
--- response_headers
X-Result: not_yet_valid

=== issued in the future
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iat => time + 3600, nbf => undef }) }}
--- error_code: 401
--- response_headers
X-Result: not_yet_valid

=== wrong issuer
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_issuer https://id.example;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iss => 'https://evil.example' }) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token issuer is not accepted"
X-Result: wrong_issuer

=== wrong audience
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_audience spa api;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { aud => ['other'] }) }}
--- error_code: 401
--- response_headers
X-Result: wrong_audience

=== audience array containing ours
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_issuer https://id.example;
spa_auth_audience spa api;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iss => 'https://id.example', aud => ['x', 'api'] }) }}
--- error_code: 200
--- response_headers
X-Result: ok

=== claim requirement not met: 403 insufficient_scope
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require role admin; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => 'user' }) }}
--- error_code: 403
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="insufficient_scope", error_description="token does not grant access to this resource"
X-Result: forbidden
--- response_body_like
"code":"insufficient_scope"

=== claim requirement met by an array claim
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require role admin ops; spa_auth_require email_verified true; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => ['user', 'ops'], email_verified => JSON::PP::true }) }}
--- error_code: 200

=== step-up: password-only token gets the RFC 9470 error
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require_mfa on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd'] }) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="insufficient_user_authentication", error_description="a second authentication factor is required"
X-Result: mfa_required

=== step-up: token with otp in amr passes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require_mfa on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd', 'otp'], mfa => JSON::PP::true }) }}
--- error_code: 200

=== alg none is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ raw_token('{"alg":"none"}', '{"sub":"admin","exp":' . (time + 600) . '}', '') }}
--- error_code: 401
--- response_headers
X-Result: malformed

=== alg NONE with a signature is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ raw_token('{"alg":"NONE"}', '{"sub":"admin","exp":' . (time + 600) . '}', 'c2ln') }}
--- error_code: 401
--- response_headers
X-Result: alg_not_allowed

=== algorithm outside the allowlist
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms EdDSA;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'rsa') }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token algorithm is not allowed"
X-Result: alg_not_allowed

=== HS256 keyed with the RSA public key (alg confusion) is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256","kid":"' . kid_of('rsa') . '"}', '{"sub":"admin","exp":' . (time + 600) . '}', `openssl pkey -in @DATA@/rsa.pem -pubout`) }}
--- error_code: 401
--- response_headers
X-Result: alg_not_allowed

=== crit header is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(header => { crit => ['exp'], exp => 1 }) }}
--- error_code: 401
--- response_headers
X-Result: malformed
--- error_log
unsupported critical header parameter

=== HEAD gets the status and headers without a body
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- request
HEAD /t
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa"
--- response_body

=== POST body is discarded on rejection
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- request
POST /t
{"a":"some body the client sent"}
--- error_code: 401
--- response_body_like
"code":"missing_token"

=== token longer than 16 KiB is malformed, not a crash
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
large_client_header_buffers 4 64k;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ 'a' x 20000 }}
--- error_code: 401
--- response_headers
X-Result: malformed
