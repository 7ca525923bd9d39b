# The shipped conf/nginx.conf and conf/authd.toml, with local paths (the
# same adaptation `make run` uses), serve the whole browser flow over
# HTTPS: cookies, Origin, body-less POSTs, step-up, roles, legacy paths.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use SpaAuth::WsPeers;
use Test::More;
use Time::HiRes qw(sleep);

my $s = SpaAuth::Shipped::start();
my ($state, $port) = @$s{qw(state port)};
ok($s->{authd_ok}, 'shipped authd.toml is valid') or diag($s->log_text('check.log'));
ok($s->{nginx_ok}, 'shipped nginx.conf passes nginx -t and starts') or BAIL_OUT($s->{nginx_t});

my $jar = $s->{jar};
sub curl {
    my (@args) = @_;
    my $out = `curl -sk -b $jar -c $jar -H 'Content-Type: application/json' -w '\n%{http_code}' @args 2>&1`;
    my ($body, $code) = $out =~ /\A(.*)\n(\d+)\z/s;
    return ($code // 0, $body // $out);
}
my $base = "https://localhost:$port";
my $origin = "-H 'Origin: https://localhost:$port'";

my ($code, $body) = curl($origin, "$base/api/v1/auth/signup", q{-d '{"email":"dev@example.com","username":"dev","password":"a long dev password"}'});
is($code, 201, 'signup over HTTPS/2');
($code) = curl($origin, "$base/api/v1/auth/login", q{-d '{"email":"dev@example.com","password":"a long dev password"}'});
is($code, 200, 'login');
my $cookies = do { local $/; open my $fh, '<', $jar; <$fh> };
like($cookies, qr/#HttpOnly_localhost\tFALSE\t\/\tTRUE\t\d+\t__Host-spa_at\t/, 'access cookie: HttpOnly, Secure, Path=/');
like($cookies, qr/#HttpOnly_localhost\tFALSE\t\/api\/v1\/auth\tTRUE\t\d+\t__Secure-spa_rt\t/, 'refresh cookie: HttpOnly, Secure, Path=/api/v1/auth');

($code, $body) = curl("-H 'X-User-Role: admin'", "$base/api/v1/demo/hello");
is($code, 200, 'protected demo service with the access cookie');
like($body, qr/"X-User-Role": "user"/, 'identity headers set by the module, the spoofed one replaced');
($code) = curl("$base/api/demo/hello");
is($code, 200, 'legacy /api/ path rewritten to /api/v1/');
{
    my $ws = SpaAuth::WsPeers::client(url => "wss://localhost:$port/ws/chat", origin => "https://localhost:$port",
                                      cookie => '__Host-spa_at=' . $s->cookie('__Host-spa_at'), send => ['hi'],
                                      wait_close_ms => 300);
    ok($ws->{opened}, 'WebSocket over HTTPS (wss://.../ws/) with the access cookie');
    is($ws->{greeting}{hello}, 'dev', 'the demo WebSocket service greets the user');
    is($ws->{messages}[0]{text}, 'dev: hi', 'and echoes');
}
($code, $body) = curl("$base/api/v1/demo/sensitive/x");
is($code, 401, 'step-up location refuses a password-only token: 401 (RFC 9470 step-up)');
like($body, qr/"code":"insufficient_user_authentication"/, 'insufficient_user_authentication');
($code) = curl("$base/api/v1/demo/admin/x");
is($code, 403, 'admin location refuses role user');

($code) = curl('--http1.1', $origin, '-X POST', "$base/api/v1/auth/refresh");
is($code, 200, 'body-less POST over HTTP/1.1 (no Content-Length) refreshes at once');
($code) = curl($origin, '-X POST', "$base/api/v1/auth/refresh");
is($code, 200, 'body-less POST over HTTP/2');
($code, $body) = curl("-H 'Origin: https://evil.example'", '-X POST', "$base/api/v1/auth/refresh");
is($code, 403, 'refresh from a foreign Origin refused');
($code) = curl($origin, '-X POST', "$base/api/v1/auth/logout");
is($code, 200, 'logout');
($code) = curl("$base/api/v1/demo/hello");
is($code, 401, 'after logout: 401 on the next request');
($code, $body) = curl("$base/api/v1/auth/jwks.json");
like($body, qr/"kty"/, 'JWKS published through nginx');

$s->stop;
my $log = do { local $/; open my $fh, '<', "$state/logs/error.log"; <$fh> // '' };
unlike($log, qr/\[(error|alert|crit|emerg)\]/, 'nginx error log clean') or diag($log);
done_testing();
