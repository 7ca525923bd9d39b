# Request fields read as RFC 9110 and RFC 6265 say (core/http_fields.h,
# core/cookies.h): Upgrade in any spelling is an upgrade, so the Origin
# check cannot be skipped; same origin means scheme, host and port; no
# 101 reaches the client unless the module authorized the upgrade; cookie
# names are case-sensitive.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use IO::Socket::INET;
use POSIX ();

# An upstream that answers every request with 101, whatever it asked for:
# what a confused or hostile upstream could do.
our $UP101 = SpaAuth::Test::free_port();
my $listener = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => $UP101, ReuseAddr => 1)
    or die "listen: $!";
my $pid = fork // die;
if ($pid == 0) {
    while (my $c = $listener->accept) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) { my $n = sysread($c, $head, 4096, length $head); last unless $n }
        print $c "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nhello";
        close $c;
    }
    POSIX::_exit(0);
}
close $listener;
END { kill 'TERM', $pid if $pid }

run_blocks();

__DATA__

=== Upgrade "websocket<TAB>" is an upgrade: a foreign Origin is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket{{ "\t" }}
Sec-WebSocket-Version: 13
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==
Origin: https://evil.example
Cookie: __Host-spa_at={{ mint() }}
--- error_code: 403
--- response_body_like
"code":"origin_not_allowed"
--- response_headers
X-Result: origin_not_allowed

=== Upgrade "WebSocket/13" is an upgrade
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: WebSocket/13
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== Upgrade as a list: "h2c, websocket"
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: h2c,{{ "\t" }}websocket ,
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== Upgrade in two header lines
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: h2c
Upgrade: websocket
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== same origin compares the scheme: https://localhost is not this http server
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
Origin: https://localhost
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== same origin compares the port: http://localhost:8080 is not localhost:80
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
Origin: http://localhost:8080
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== two Origin lines are refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
Origin: http://localhost
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 403

=== a listed origin matches as a tuple (default port written out)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; spa_auth_websocket_origin https://app.example.com; proxy_pass http://127.0.0.1:{{ $main::UP101 }}; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
Origin: https://APP.example.com:443
Authorization: Bearer {{ mint() }}
--- error_code: 101

=== same origin with the default port passes, and an authorized 101 reaches the client
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:{{ $main::UP101 }}; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
Origin: http://localhost
Authorization: Bearer {{ mint() }}
--- error_code: 101

=== a 101 for a request the module did not see as an upgrade never reaches the client
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth on; spa_auth_websocket on; proxy_pass http://127.0.0.1:{{ $main::UP101 }}; }
--- request
GET /ws/x
--- more_headers
Upgrade: something-else
Origin: https://evil.example
Authorization: Bearer {{ mint() }}
--- error_code: 0
--- error_log
[error]
the upstream switched protocols for an upgrade the module did not authorize

=== a 101 without a token (spa_auth optional, no upgrade authorized by a token) is still fine
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /ws/ { spa_auth optional; spa_auth_websocket on; proxy_pass http://127.0.0.1:{{ $main::UP101 }}; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
--- error_code: 101

=== a 101 outside spa_auth_websocket locations is nginx's business
--- config
location /ws/ { proxy_pass http://127.0.0.1:{{ $main::UP101 }}; proxy_http_version 1.1; proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection upgrade; }
--- request
GET /ws/x
--- more_headers
Upgrade: websocket
--- error_code: 101

=== cookie names are case-sensitive: __HOST-spa_at is not __Host-spa_at
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Cookie: __HOST-spa_at={{ mint() }}
--- error_code: 401
--- response_headers
X-Result: missing

=== a look-alike cookie beside the real one is no shadow: it makes the header ambiguous, and it is refused
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; add_header X-Result $spa_auth_result always; }
--- more_headers
Cookie: __host-spa_at=not.a.token; __Host-spa_at={{ mint() }}
--- error_code: 401
--- response_headers
X-Result: duplicate_cookie

=== the token cookie in a second Cookie line, with tabs
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token cookie=at; }
--- more_headers
Cookie: a=1
Cookie: b=2;{{ "\t" }}at={{ mint() }}
--- error_code: 200

=== a configured cookie name is exact too
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
location /t { spa_auth on; spa_auth_token cookie=at; }
--- more_headers
Cookie: AT={{ mint() }}
--- error_code: 401
