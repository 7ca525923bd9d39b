# spa_auth_csrf_origin: an unsafe request whose token came from a cookie
# must come from an allowed page (Origin, or Sec-Fetch-Site: same-origin
# when no Origin is sent), else 403 origin_not_allowed. `on`: this origin
# (scheme, host and port); a list: those origins.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== POST with the cookie and no Origin: 403 origin_not_allowed
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }
--- request
POST /t
--- more_headers
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403
--- response_headers
X-Result: origin_not_allowed
Content-Type: application/json
!WWW-Authenticate
--- response_body_like
"code":"origin_not_allowed"

=== POST with the cookie from this origin passes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: http://localhost
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== same origin is scheme, host and port
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
DELETE /t
--- more_headers
Origin: https://localhost
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== Origin null is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
PUT /t
--- more_headers
Origin: null
Sec-Fetch-Site: same-origin
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== no Origin but Sec-Fetch-Site: same-origin passes
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
PATCH /t
--- more_headers
Sec-Fetch-Site: same-origin
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== Sec-Fetch-Site: cross-site is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Sec-Fetch-Site: cross-site
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== a method nginx does not know is unsafe
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
PROPPATCH /t
--- more_headers
Origin: https://evil.example
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== safe methods with the cookie need no Origin
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Origin: https://evil.example
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== a bearer header is not ambient: no Origin needed
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 200

=== a list of origins, compared as tuples
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin https://app.example.com http://localhost:5173; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: https://app.example.com:443
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== a list: this origin is not in it
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_csrf_origin https://app.example.com; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: http://localhost
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== spa_auth_csrf_origin at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_csrf_origin on;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== spa_auth_csrf_origin at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_csrf_origin https://app.example.com;
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: https://evil.example
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403

=== spa_auth_csrf_origin off below on
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_csrf_origin on;
--- config
location /t { spa_auth on; spa_auth_csrf_origin off; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== off by default
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
POST /t
--- more_headers
Origin: https://evil.example
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200

=== a bad origin fails nginx -t
--- http_config
spa_auth_csrf_origin app.example.com;
--- must_die
--- error_log
spa_auth_csrf_origin: "app.example.com" is not an origin like https://app.example.com

=== on with origins fails nginx -t
--- http_config
spa_auth_csrf_origin on https://app.example.com;
--- must_die
--- error_log
invalid parameter "https://app.example.com" in "spa_auth_csrf_origin"

=== spa_auth_csrf_origin twice
--- config
location /t { spa_auth_csrf_origin on; spa_auth_csrf_origin off; }
--- must_die
--- error_log
"spa_auth_csrf_origin" directive is duplicate
