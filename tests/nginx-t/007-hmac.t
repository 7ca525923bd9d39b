# HMAC tokens only with an explicit secret file and an allowlist naming them;
# hand-made HS256 tokens also let us send payloads no encoder would write.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== HS256 with a secret file
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Sub $spa_auth_sub; }
--- more_headers
Authorization: Bearer {{ mint(hmac => 1, claims => { sub => 'svc' }) }}
--- error_code: 200
--- response_headers
X-Sub: svc

=== HS256 signed with another secret
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256"}', '{"sub":"x","exp":' . (time + 60) . '}', 'another-secret-another-secret-another') }}
--- error_code: 401
--- response_headers
X-Result: bad_signature

=== HS256 refused when the allowlist does not name it, even with a secret
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_hmac_secret_file @DATA@/hmac.secret;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(hmac => 1) }}
--- error_code: 401
--- response_headers
X-Result: alg_not_allowed

=== duplicate claim names are malformed
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256"}', '{"sub":"alice","sub":"admin","exp":' . (time + 60) . '}') }}
--- error_code: 401
--- response_headers
X-Result: malformed
--- error_log
duplicate JSON member name

=== exp that is not a number is malformed
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256"}', '{"sub":"alice","exp":"' . (time + 60) . '"}') }}
--- error_code: 401
--- response_headers
X-Result: malformed
--- error_log
claim "exp" is not a number

=== a token without exp is malformed
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256"}', '{"sub":"forever"}') }}
--- error_code: 401
--- response_headers
X-Result: malformed

=== deeply nested claims are malformed, not a crash
--- http_config
spa_auth_hmac_secret_file @DATA@/hmac.secret;
spa_auth_algorithms HS256;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ hs256_raw('{"alg":"HS256"}', '{"exp":' . (time + 60) . ',"x":' . ('[' x 200) . (']' x 200) . '}') }}
--- error_code: 401
--- response_headers
X-Result: malformed
