# What reaches the microservice: claim headers set from the verified token,
# client-sent copies of them always removed, unsafe values never sent; and
# the $spa_auth_* variables.
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
run_blocks();

__DATA__

=== claims become headers upstream
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
spa_auth_claim_header X-User-Email email;
spa_auth_claim_header X-User-Role role;
spa_auth_claim_header X-User-Sid sid;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'u-1', email => 'a@example.com', role => ['user', 'ops'], sid => 's-9' }) }}
--- error_code: 200
--- response_body
sub=u-1
email=a@example.com
role=user,ops
sid=s-9
claim=

=== spoofed identity headers are removed on an authenticated request
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
spa_auth_claim_header X-User-Role role;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Role: admin
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
x-user-sub: mallory
X-USER-SUB: mallory2
--- error_code: 200
--- response_body_like
^sub=alice\nemail=\nrole=\n

=== spoofed identity headers are removed when no token is needed
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { spa_auth optional; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Sub: mallory
--- error_code: 200
--- response_body_like
^sub=\n

=== spoofed identity headers are removed where spa_auth is off
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Sub: mallory
--- error_code: 200
--- response_body_like
^sub=\n

=== spoofed headers are removed even under satisfy any
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { satisfy any; allow 127.0.0.1; deny all; spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Sub: mallory
--- error_code: 200
--- response_body_like
^sub=\n

=== a claim with CR/LF for a claim header refuses the request: 401 invalid_token
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
spa_auth_claim_header X-User-Email email;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice', email => "a\r\nX-Admin: yes" }) }}
--- error_code: 401
--- response_headers
X-Result: unsafe_claim
WWW-Authenticate: Bearer realm="spa", error="invalid_token", error_description="token has a claim that cannot be passed on"
--- response_body_like
"code":"invalid_token"
--- error_log
spa_auth: token refused: claim "email" for "X-User-Email" has control characters

=== a claim with NUL, DEL or a tab for a claim header: 401 too
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
spa_auth_claim_header X-User-Role role;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => "alice\x7f", role => ["user", "a\x00b"] }) }}
--- error_code: 401

=== a claim with control characters that no header carries passes, but is no variable
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Email "[$spa_auth_claim_email]"; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice', email => "a\r\nX-Admin: yes" }) }}
--- error_code: 200
--- response_body_like
^sub=alice\nemail=\n
--- response_headers
X-Email: []

=== variables: result, sub, sid and any claim
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t {
    spa_auth on;
    add_header X-Result $spa_auth_result;
    add_header X-Sub $spa_auth_sub;
    add_header X-Sid $spa_auth_sid;
    add_header X-Tenant $spa_auth_claim_tenant;
    add_header X-Groups $spa_auth_claim_groups;
    add_header X-Level $spa_auth_claim_level;
    add_header X-Missing "[$spa_auth_claim_nope]";
}
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'alice', sid => 'sess-1', tenant => 't1', groups => ['a', 'b'], level => 3 }) }}
--- error_code: 200
--- response_headers
X-Result: ok
X-Sub: alice
X-Sid: sess-1
X-Tenant: t1
X-Groups: a,b
X-Level: 3
X-Missing: []

=== variables in the access log of a refused request
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
log_format spa '$spa_auth_result sub=$spa_auth_sub';
access_log @DIR@/logs/spa.log spa;
--- config
location /t { spa_auth on; spa_auth_require role admin; }
--- more_headers
Authorization: Bearer {{ mint(claims => { sub => 'bob', role => 'user' }) }}
--- error_code: 403
--- access_log
forbidden sub=bob
