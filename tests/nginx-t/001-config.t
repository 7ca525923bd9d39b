# The module loads into Debian's nginx; bad configuration fails `nginx -t`
# naming the directive and the value.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== module loads and an unprotected location is untouched
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { }
--- error_code: 200
--- response_body
ok

=== missing JWKS file
--- http_config
spa_auth_jwks_file @DATA@/nope.json;
--- must_die
--- error_log
spa_auth_jwks_file "@DATA@/nope.json": No such file or directory

=== JWKS file that is not JSON
--- http_config
spa_auth_jwks_file @DATA@/broken.json;
--- must_die
--- error_log
spa_auth_jwks_file "@DATA@/broken.json": invalid JSON

=== JWKS with private key material
--- http_config
spa_auth_jwks_file @DATA@/private.json;
--- must_die
--- error_log
spa_auth_jwks_file "@DATA@/private.json": key #0: JWK contains private key material; publish public keys only

=== unknown algorithm
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms EdDSA ES512;
--- must_die
--- error_log
spa_auth_algorithms: unknown algorithm "ES512"

=== "none" is never an algorithm
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms EdDSA None;
--- must_die
--- error_log
spa_auth_algorithms: "None" is never accepted

=== HMAC algorithm without a secret file
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms HS256;
--- must_die
--- error_log
spa_auth_algorithms lists an HMAC algorithm but no spa_auth_hmac_secret_file is set

=== HMAC secret shorter than 32 bytes
--- http_config
spa_auth_hmac_secret_file @DATA@/short.secret;
--- must_die
--- error_log
spa_auth_hmac_secret_file "@DATA@/short.secret": HMAC secret must be at least 32 bytes

=== bad leeway
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_leeway soon;
--- must_die
--- error_log
spa_auth_leeway: invalid time "soon"

=== leeway beyond ten minutes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_leeway 1h;
--- must_die
--- error_log
spa_auth_leeway: invalid time "1h" (0 to 600s)

=== invalid spa_auth value
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth yes; }
--- must_die
--- error_log
invalid parameter "yes" in "spa_auth"

=== duplicate directive
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_issuer a;
spa_auth_issuer b;
--- must_die
--- error_log
"spa_auth_issuer" directive is duplicate

=== unknown token source
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_token header bearer;
--- must_die
--- error_log
invalid parameter "bearer" in "spa_auth_token"

=== empty cookie name
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_token cookie=;
--- must_die
--- error_log
invalid parameter "cookie=" in "spa_auth_token"

=== spa_auth on without keys
--- config
location /t { spa_auth on; }
--- must_die
--- error_log
spa_auth is enabled but no spa_auth_jwks_file is set

=== claim header with an invalid name
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header "X User" sub;
--- must_die
--- error_log
invalid parameter "X User" in "spa_auth_claim_header"

=== claim header that would replace the token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header Authorization sub;
--- must_die
--- error_log
spa_auth_claim_header: "Authorization" cannot carry a claim

=== spa_auth_require needs a value
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_require role;
--- must_die
--- error_log
invalid number of arguments in "spa_auth_require" directive

=== spa_auth_cache_size must be a number
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_cache_size lots;
--- must_die
--- error_log
spa_auth_cache_size: invalid number "lots" (0 to 10000000)

=== spa_auth_cache_size only at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_cache_size 100;
--- must_die
--- error_log
"spa_auth_cache_size" directive is not allowed here

=== spa_auth_cache_size 0 turns the cache off and tokens still verify
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_cache_size 0;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 200
