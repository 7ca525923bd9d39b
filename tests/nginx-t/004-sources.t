# Where the token comes from: Authorization header, a cookie, a query
# parameter, in the configured order; the default is the header, then the
# __Host-spa_at cookie that spa-authd sets.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== default: Authorization header
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 200

=== bearer scheme is case-insensitive
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Authorization: bEaReR {{ mint() }}
--- error_code: 200

=== another scheme is not a bearer token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 401
--- response_headers
X-Result: missing
WWW-Authenticate: Bearer realm="spa"

=== default: __Host-spa_at cookie among others
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; }
--- more_headers
Cookie: theme=dark; __Host-spa_at={{ mint() }}; lang=en
--- error_code: 200

=== header wins over cookie in the default order
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(ttl => -100) }}
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 401
--- response_headers
X-Result: expired

=== configured cookie name
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token cookie=at; }
--- more_headers
Cookie: at={{ mint() }}
--- error_code: 200

=== a cookie source ignores the Authorization header
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token cookie=at; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 401

=== query parameter
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token query=token; }
--- request
GET /t?x=1&token={{ mint() }}&y=2
--- error_code: 200

=== configured order: query before cookie
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token query=token cookie=at; add_header X-Result $spa_auth_result always; }
--- request
GET /t?token={{ mint(ttl => -100) }}
--- more_headers
Cookie: at={{ mint() }}
--- error_code: 401
--- response_headers
X-Result: expired

=== configured order: falls through to the next source
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token query=token cookie=at; }
--- more_headers
Cookie: at={{ mint() }}
--- error_code: 200

=== empty cookie value counts as missing
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Cookie: __Host-spa_at=
--- error_code: 401
--- response_headers
X-Result: missing
