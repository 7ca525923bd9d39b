# spa_auth_max_age: the authentication behind the token (auth_time) must be
# recent, else 401 insufficient_user_authentication with max_age (RFC 9470
# §3); a token without auth_time fails the check.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== a fresh authentication passes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_max_age 10m; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 60 }) }}
--- error_code: 200
--- response_headers
X-Result: ok

=== an old authentication: 401 with the RFC 9470 challenge and max_age
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_max_age 10m; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 3600 }) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="insufficient_user_authentication", error_description="a more recent authentication is required", max_age=600
X-Result: auth_too_old
Content-Type: application/json
--- response_body_like
^\{"success":false,"error":\{"code":"insufficient_user_authentication","message":"a more recent authentication is required"\},"meta":
--- error_log
spa_auth: token refused: auth_too_old (authenticated

=== no auth_time fails the check
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_max_age 10m; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 401
--- response_headers
X-Result: auth_too_old

=== require_mfa names max_age too when the location has one
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_require_mfa on; spa_auth_max_age 5m; }
--- more_headers
Authorization: Bearer {{ mint(claims => { amr => ['pwd'], auth_time => time() }) }}
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer realm="spa", error="insufficient_user_authentication", error_description="a second authentication factor is required", max_age=300

=== spa_auth_max_age at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_max_age 10m;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 3600 }) }}
--- error_code: 401

=== spa_auth_max_age at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_max_age 10m;
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 3600 }) }}
--- error_code: 401

=== spa_auth_max_age off below on
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_max_age 10m;
--- config
location /t { spa_auth on; spa_auth_max_age off; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 3600 }) }}
--- error_code: 200

=== a location's own max_age below the server's
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_max_age 1d;
location /t { spa_auth on; spa_auth_max_age 1m; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => time() - 3600 }) }}
--- error_code: 401

=== auth_time of the wrong type is a malformed token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { auth_time => 'yesterday' }) }}
--- error_code: 401
--- response_headers
X-Result: malformed

=== a bad max_age fails nginx -t
--- http_config
spa_auth_max_age soon;
--- must_die
--- error_log
spa_auth_max_age: invalid time "soon" (1s to 366d)

=== a zero max_age fails nginx -t
--- http_config
spa_auth_max_age 0s;
--- must_die
--- error_log
spa_auth_max_age: invalid time "0s"

=== spa_auth_max_age twice
--- config
location /t { spa_auth_max_age 1m; spa_auth_max_age 2m; }
--- must_die
--- error_log
"spa_auth_max_age" directive is duplicate
