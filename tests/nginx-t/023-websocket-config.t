# spa_auth_websocket and its directives: bad values fail `nginx -t` with
# the value named; what it sets for proxy_pass.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== spa_auth_websocket with a bad value
--- config
location /ws/ { spa_auth_websocket yes; }
--- must_die
--- error_log
invalid parameter "yes" in "spa_auth_websocket"

=== an origin that is not an origin
--- config
location /ws/ { spa_auth_websocket_origin https://app.example.com/path; }
--- must_die
--- error_log
spa_auth_websocket_origin: "https://app.example.com/path" is not an origin like https://app.example.com

=== a recheck interval out of range
--- config
location /ws/ { spa_auth_websocket_recheck 100ms; }
--- must_die
--- error_log
spa_auth_websocket_recheck: invalid time "100ms" (1s to 1h)

=== spa_auth_websocket twice
--- config
location /ws/ { spa_auth_websocket on; spa_auth_websocket on; }
--- must_die
--- error_log
"spa_auth_websocket" directive is duplicate

=== proxy settings written by hand as well are fine
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ {
    proxy_http_version 1.1;
    spa_auth on;
    spa_auth_websocket on;
    proxy_pass http://127.0.0.1:@ECHO_PORT@;
}
--- request
GET /ws/x
--- error_code: 401

=== a plain request to a WebSocket location: the usual token check, Connection: close upstream
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ {
    spa_auth on;
    spa_auth_websocket on;
    proxy_pass http://127.0.0.1:@ECHO_PORT@;
}
--- more_headers
Authorization: Bearer {{ mint() }}
--- request
GET /ws/x
--- error_code: 200
--- response_body_like
^sub=

=== spa_auth_token at server level still applies in a WebSocket location
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_token query=access_token;
location /ws/ {
    spa_auth on;
    spa_auth_websocket on;
    proxy_pass http://127.0.0.1:@ECHO_PORT@;
}
--- request
GET /ws/x?access_token={{ mint() }}
--- error_code: 200
