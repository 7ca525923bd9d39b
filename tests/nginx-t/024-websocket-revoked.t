# An open WebSocket ends when its session does: logout (and a password
# reset, or an administrator disabling the user) revokes the session in
# spa-authd's store, and the module closes the socket with 4401 "session
# revoked" at its next recheck — no polling loop, one timer per socket.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::WsPeers;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

BAIL_OUT('tests/peers is not installed: run make deps') unless SpaAuth::WsPeers::available();
SpaAuth::Test::prepare_prefix();
my $ws_port = SpaAuth::WsPeers::start_service();

start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => qq{
        location /api/ { spa_auth_pass_token on; proxy_pass http://unix:\@DIR\@/authd.sock; }
        location /ws/ {
            spa_auth on;
            spa_auth_websocket on;
            spa_auth_websocket_recheck 1s;
            spa_auth_claim_header X-User-Name username;
            proxy_pass http://127.0.0.1:$ws_port;
        }
    },
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

my %u = (email => 'ws@example.com', username => 'wsuser', password => 'a long ws password');
json_request(POST => '/api/v1/auth/signup', \%u);
my $login = json_request(POST => '/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data};
ok($login->{access_token}, 'logged in');

# The client runs in the background: open, then wait for the close.
my $url = 'ws://127.0.0.1:' . SpaAuth::Test::port() . '/ws/chat';
my $result = SpaAuth::Test::prefix() . '/ws-result.json';
my $client = fork // die;
if ($client == 0) {
    my $r = SpaAuth::WsPeers::client(url => $url, protocols => ['bearer', $login->{access_token}], wait_close_ms => 8000);
    SpaAuth::Test::write_file($result, encode_json($r));
    POSIX::_exit(0);
}
sleep 1.5;  # open and greeted, and one recheck passed with the session alive
my $out_at = time;
is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $login->{access_token}")->{status}, 200,
   'logout');
waitpid($client, 0);
my $r = eval { decode_json(do { local $/; open my $fh, '<', $result or die; <$fh> }) } // {};
ok($r->{opened}, 'the socket was open');
is($r->{greeting}{hello}, 'wsuser', 'as wsuser');
is($r->{close}{code}, 4401, 'after logout: close 4401');
is($r->{close}{reason}, 'session revoked', 'reason "session revoked"');
my $after = $r->{close}{at} / 1000 - $out_at;
ok($after > 0 && $after < 2.0, sprintf('at the next recheck (%.2f s after logout, recheck 1 s)', $after));
stop_nginx();
like(SpaAuth::Test::error_log_text(), qr/websocket closed: session revoked/, 'logged');
done_testing();
