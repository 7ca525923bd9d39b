# Tokens never travel further than the module: the Bearer Authorization
# header, the token cookies (the others stay) and query tokens are taken
# off the request before proxy_pass, whichever source held the token;
# $spa_auth_redacted_request is $request with secrets as [redacted].
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
our $UP = SpaAuth::Test::free_port();
run_blocks();

__DATA__

=== the Authorization header stops at the module
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie] uri=[$request_uri]\n"; } }
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ mint() }}
Cookie: theme=dark
--- error_code: 200
--- response_body
auth=[] cookie=[theme=dark] uri=[/t]

=== the token cookie is cut out of the Cookie header, the others stay
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie] uri=[$request_uri]\n"; } }
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Cookie: theme=dark; __Host-spa_at={{ mint() }}; lang=en
--- error_code: 200
--- response_body
auth=[] cookie=[theme=dark; lang=en] uri=[/t]

=== a Cookie header with only the token goes away
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "cookie=[$http_cookie]\n"; } }
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 200
--- response_body
cookie=[]

=== every carrier goes, not only the one that held the token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie] uri=[$request_uri]\n"; } }
--- config
location /t { spa_auth on; spa_auth_token cookie=at query=access_token; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- request
GET /t?x=1&access_token={{ mint() }}&y=2
--- more_headers
Authorization: Bearer {{ mint() }}
Cookie: at={{ mint() }}; __HOST-spa_at={{ mint() }}; keep=1
--- error_code: 200
--- response_body
auth=[] cookie=[keep=1] uri=[/t?x=1&y=2]

=== access_token in the query never goes upstream, even where no source reads it
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "uri=[$request_uri]\n"; } }
--- config
location /t { spa_auth optional; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- request
GET /t?access_token=abc&keep=1
--- error_code: 200
--- response_body
uri=[/t?keep=1]

=== a query token is removed from the URI sent upstream (proxy_pass with a URI)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "uri=[$request_uri]\n"; } }
--- config
location /t/ { spa_auth on; spa_auth_token query=at; proxy_pass http://127.0.0.1:{{ $main::UP }}/up/; }
--- request
GET /t/x?at={{ mint() }}&AT=again&a=1
--- error_code: 200
--- response_body
uri=[/up/x?a=1]

=== in spa_auth optional without a valid token the carriers go too
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location /t { spa_auth optional; spa_auth_token cookie=other; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer something
Cookie: __Host-spa_at=x; a=1
--- error_code: 200
--- response_body
auth=[] cookie=[a=1]

=== Basic authorization is not ours and stays
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization]\n"; } }
--- config
location /t { spa_auth optional; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Basic YWxpY2U6c2VjcmV0
--- error_code: 200
--- response_body
auth=[Basic YWxpY2U6c2VjcmV0]

=== without spa_auth, a location that knows the keys still keeps tokens from its upstream (a public service)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie] args=[$args]\n"; } }
--- config
location /t { proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- request
GET /t?access_token=abc&x=1
--- more_headers
Authorization: Bearer abc
Cookie: __Host-spa_at=abc; theme=dark; __Secure-spa_rt=r
--- error_code: 200
--- response_body
auth=[] cookie=[theme=dark] args=[x=1]

=== spa_auth off with spa_auth_pass_token on leaves the request alone (spa-authd's own locations)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location /t { spa_auth_pass_token on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer abc
Cookie: __Host-spa_at=abc
--- error_code: 200
--- response_body
auth=[Bearer abc] cookie=[__Host-spa_at=abc]

=== a server whose locations know no keys is not touched
--- http_config
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location /t { proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer abc
Cookie: __Host-spa_at=abc
--- error_code: 200
--- response_body
auth=[Bearer abc] cookie=[__Host-spa_at=abc]

=== spa_auth_pass_token on: an upstream that checks the token itself gets it
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization]\n"; } }
--- config
location /t { spa_auth on; spa_auth_pass_token on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ $main::T = mint() }}
--- error_code: 200
--- response_body
auth=[Bearer {{ $main::T }}]

=== spa_auth_pass_token at http level, off below on
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_pass_token on;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization]\n"; } }
--- config
location /t { spa_auth on; spa_auth_pass_token off; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ mint() }}
--- error_code: 200
--- response_body
auth=[]

=== spa_auth_pass_token at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization]\n"; } }
--- config
spa_auth_pass_token on;
location /t { spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer x.y.z
--- error_code: 401

=== a bad spa_auth_pass_token value
--- config
location /t { spa_auth_pass_token yes; }
--- must_die
--- error_log
invalid parameter "yes" in "spa_auth_pass_token"

=== the subprotocol pair is cut to bearer even when the cookie held the token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "proto=[$http_sec_websocket_protocol]\n"; } }
--- config
location /t { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Cookie: __Host-spa_at={{ mint() }}
Sec-WebSocket-Protocol: chat, bearer
Sec-WebSocket-Protocol: {{ mint() }}
--- error_code: 200
--- response_body
proto=[chat, bearer]

=== a WebSocket location takes the subprotocol token even when spa_auth_token says otherwise above
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_token header cookie=__Host-spa_at;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "proto=[$http_sec_websocket_protocol]\n"; } }
--- config
location /t { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:{{ $main::UP }}; add_header X-Result $spa_auth_result always; }
--- more_headers
Sec-WebSocket-Protocol: bearer, {{ mint() }}
--- error_code: 200
--- response_headers
X-Result: ok
--- response_body
proto=[bearer]

=== $spa_auth_redacted_request: code, state and query tokens never reach the log
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
log_format redacted 'R $spa_auth_redacted_request';
--- config
access_log @DIR@/logs/redacted.log redacted;
location /t { spa_auth optional; spa_auth_token query=at; }
location /cb { return 204; }
--- request
GET /cb?code=SECRETCODE&state=SECRETSTATE&at=SECRETAT&id_token=I&x=1
--- error_code: 204
--- access_log
R GET /cb?code=[redacted]&state=[redacted]&at=[redacted]&id_token=[redacted]&x=1 HTTP/1.1

=== $request and the error log are redacted too, everywhere (post-read), while the upstream gets the real query
--- http_config
log_format plain 'P $request';
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "uri=[$request_uri]\n"; } }
--- config
access_log @DIR@/logs/plain.log plain;
location /cb { proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- request
GET /cb?state=S1&code=C1
--- error_code: 200
--- response_body
uri=[/cb?state=S1&code=C1]
--- access_log
P GET /cb?state=[redacted]&code=[redacted] HTTP/1.1

=== an auth_request subrequest gets no token either (it runs after preaccess)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }};
         location /check { if ($http_authorization) { return 403; } if ($http_cookie ~ "spa_at") { return 403; } return 204; }
         location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location = /check { internal; proxy_pass http://127.0.0.1:{{ $main::UP }}; proxy_pass_request_body off; }
location /t { spa_auth on; auth_request /check; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ mint() }}
Cookie: theme=dark
--- error_code: 200
--- response_body
auth=[] cookie=[theme=dark]

=== satisfy any with an allow: the token still stops at the module
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location /t { satisfy any; allow 127.0.0.1; deny all; spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ mint() }}
Cookie: __Host-spa_at=x; theme=dark
--- error_code: 200
--- response_body
auth=[] cookie=[theme=dark]

=== other schemes and bare JWTs in Authorization stop too; Basic stays
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization]\n"; } }
--- config
location /t { proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: JWT {{ mint() }}
--- error_code: 200
--- response_body
auth=[]

=== an internal redirect into a spa_auth location keeps the token read before the carriers went
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "auth=[$http_authorization] cookie=[$http_cookie]\n"; } }
--- config
location /t { try_files /no-such-file @protected; }
location @protected { spa_auth on; add_header X-Result $spa_auth_result always; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Authorization: Bearer {{ mint() }}
Cookie: theme=dark
--- error_code: 200
--- response_headers
X-Result: ok
--- response_body
auth=[] cookie=[theme=dark]

=== and without a token it still answers 401 there
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
server { listen 127.0.0.1:{{ $main::UP }}; location / { return 200 "in\n"; } }
--- config
location /t { try_files /no-such-file @protected; }
location @protected { spa_auth on; proxy_pass http://127.0.0.1:{{ $main::UP }}; }
--- more_headers
Cookie: theme=dark
--- error_code: 401
