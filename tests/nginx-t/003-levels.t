# Every directive at http, server and location level, and turned off (or
# overridden) below a level that set it: this is where merge bugs show.
# The harness puts `config` inside the server block, so directives there
# outside a location are server level.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== spa_auth on at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth on;
--- config
location /t { }
--- error_code: 401

=== spa_auth on at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth on;
location /t { }
--- error_code: 401

=== spa_auth on at location level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- error_code: 401

=== spa_auth off below on
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth on;
--- config
location /t { spa_auth off; add_header X-Result "[$spa_auth_result]" always; }
--- error_code: 200
--- response_headers
X-Result: []

=== spa_auth optional: no token passes with result missing
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth on;
--- config
location /t { spa_auth optional; add_header X-Result $spa_auth_result always; }
--- error_code: 200
--- response_headers
X-Result: missing

=== spa_auth optional: a bad token is still refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth optional; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -100) }}
--- error_code: 401

=== spa_auth optional: a good token sets the variables
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth optional; add_header X-Sub $spa_auth_sub always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_headers
X-Sub: alice

=== spa_auth_jwks_file at server level
--- config
spa_auth_jwks_file @DATA@/jwks.json;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 200

=== spa_auth_jwks_file at location level
--- config
location /t { spa_auth on; spa_auth_jwks_file @DATA@/jwks.json; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 200

=== spa_auth_jwks_file overridden in a location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_jwks_file @DATA@/jwks-ed2.json; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed') }}
--- error_code: 401
--- response_headers
X-Result: unknown_kid

=== spa_auth_algorithms at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms ES256;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed') }}
--- error_code: 401

=== spa_auth_algorithms at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_algorithms ES256;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed') }}
--- error_code: 401

=== spa_auth_algorithms overridden in a location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_algorithms ES256;
--- config
location /t { spa_auth on; spa_auth_algorithms EdDSA; }
--- more_headers
Authorization: Bearer {{ mint(key => 'ed') }}
--- error_code: 200

=== spa_auth_issuer at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_issuer https://a.example;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iss => 'https://b.example' }) }}
--- error_code: 401

=== spa_auth_issuer at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_issuer https://a.example;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iss => 'https://b.example' }) }}
--- error_code: 401

=== spa_auth_issuer overridden in a location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_issuer https://a.example;
--- config
location /t { spa_auth on; spa_auth_issuer https://b.example; }
--- more_headers
Authorization: Bearer {{ mint(claims => { iss => 'https://b.example' }) }}
--- error_code: 200

=== spa_auth_audience at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_audience spa;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { aud => 'admin' }) }}
--- error_code: 401

=== spa_auth_audience at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_audience spa;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { aud => 'admin' }) }}
--- error_code: 401

=== spa_auth_audience overridden in a location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_audience spa;
--- config
location /t { spa_auth on; spa_auth_audience admin; }
--- more_headers
Authorization: Bearer {{ mint(claims => { aud => 'admin' }) }}
--- error_code: 200

=== spa_auth_leeway at http level accepts a recently expired token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_leeway 5m;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -120) }}
--- error_code: 200

=== spa_auth_leeway at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_leeway 5m;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -120) }}
--- error_code: 200

=== spa_auth_leeway 0 in a location below 5m
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_leeway 5m;
--- config
location /t { spa_auth on; spa_auth_leeway 0; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -120) }}
--- error_code: 401
--- response_headers
X-Result: expired

=== default leeway is 30s
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -10) }}
--- error_code: 200

=== spa_auth_token at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_token query=access_token;
--- config
location /t { spa_auth on; }
--- request
GET /t?access_token={{ mint() }}
--- error_code: 200

=== spa_auth_token at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_token query=access_token;
location /t { spa_auth on; }
--- request
GET /t?access_token={{ mint() }}
--- error_code: 200

=== spa_auth_token overridden in a location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_token query=access_token;
--- config
location /t { spa_auth on; spa_auth_token header; }
--- request
GET /t?access_token={{ mint() }}
--- error_code: 401

=== spa_auth_require at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_require role admin;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => 'user' }) }}
--- error_code: 403

=== spa_auth_require at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_require role admin;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => 'user' }) }}
--- error_code: 403

=== spa_auth_require in a location replaces the inherited list
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_require role admin;
--- config
location /t { spa_auth on; spa_auth_require role user; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => 'user' }) }}
--- error_code: 200

=== spa_auth_require repeated: all must hold
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require role user; spa_auth_require tenant t1; }
--- more_headers
Authorization: Bearer {{ mint(claims => { role => 'user', tenant => 't2' }) }}
--- error_code: 403

=== spa_auth_require_mfa at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_require_mfa on;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd'] }) }}
--- error_code: 401

=== spa_auth_require_mfa at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_require_mfa on;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd'] }) }}
--- error_code: 401

=== spa_auth_require_mfa off below on
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_require_mfa on;
--- config
location /t { spa_auth on; spa_auth_require_mfa off; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd'] }) }}
--- error_code: 200

=== spa_auth_claim_header at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body_like
sub=alice

=== spa_auth_claim_header at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_claim_header X-User-Sub sub;
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body_like
sub=alice

=== spa_auth_claim_header in a location replaces the inherited list
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { spa_auth on; spa_auth_claim_header X-User-Role role; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice', role => 'admin' }) }}
--- error_code: 200
--- response_body_like
^sub=\nemail=\nrole=admin\n
