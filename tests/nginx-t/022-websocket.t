# WebSockets through nginx with spa_auth_websocket, a real client and a real
# upstream (the `ws` library from npm, tests/peers): upgrade with the
# cookie and with the `bearer, <jwt>` subprotocol pair, no token, a foreign
# Origin; a token that expires closes the socket with 4401 about when it
# expires; a frame in flight is finished first (or the connection is cut
# when the client will not read); 1,000 sockets in one worker.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::WsPeers;
use JSON::PP;
use MIME::Base64 ();
use Test::More;
use Time::HiRes qw(sleep time);

BAIL_OUT('tests/peers is not installed: run make deps') unless SpaAuth::WsPeers::available();
my $data = data_dir();
my $ws_port = SpaAuth::WsPeers::start_service();
# A TLS listener too: in production the sockets are wss://, and the module's
# send() then sits in front of OpenSSL's.
my $tls_port = SpaAuth::Test::free_port();
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
       . "-keyout $data/tls.key -out $data/tls.crt 2>/dev/null") == 0 or BAIL_OUT('openssl req failed');

my ($ok, $out) = start_nginx(
    worker_connections => 4096,
    http_config => qq{
        spa_auth_jwks_file \@DATA\@/jwks.json;
        server {
            listen 127.0.0.1:$tls_port ssl;
            ssl_certificate \@DATA\@/tls.crt;
            ssl_certificate_key \@DATA\@/tls.key;
            location /ws/ {
                spa_auth on;
                spa_auth_websocket on;
                spa_auth_claim_header X-User-Name sub;
                proxy_pass http://127.0.0.1:$ws_port;
            }
        }
    },
    config => qq{
        location /ws/ {
            spa_auth on;
            spa_auth_websocket on;
            spa_auth_websocket_origin https://app.example.com;
            spa_auth_claim_header X-User-Name sub;
            proxy_pass http://127.0.0.1:$ws_port;
        }
        location /metrics { spa_auth_status; }
    },
);
ok($ok, 'nginx starts with a WebSocket location (no proxy_set_header written)') or BAIL_OUT($out);
my $url = 'ws://127.0.0.1:' . SpaAuth::Test::port() . '/ws/chat';

sub client { SpaAuth::WsPeers::client(url => $url, @_) }
my $origin = 'https://app.example.com';

my ($big, $r, $short, $token);
step 'the upgrade' => sub {
    $token = mint(claims => { sub => 'alice' }, ttl => 60);
    $r = client(cookie => "__Host-spa_at=$token", origin => $origin, close_after_ms => 50);
    ok($r->{opened}, 'upgrade with the access cookie: 101');
    is($r->{greeting}{hello}, 'alice', 'the service greets the user named in X-User-Name');
    is($r->{close}{code}, 1000, 'the client closes normally');

    $r = client(protocols => ['bearer', $token], origin => $origin, close_after_ms => 50);
    ok($r->{opened}, 'upgrade with the subprotocol pair bearer, <jwt>') or diag(explain $r);
    is($r->{protocol}, 'bearer', 'only "bearer" is echoed back as the chosen subprotocol');
    is($r->{greeting}{offered_protocols}, 'bearer', 'the upstream was offered "bearer" alone: the token never reached it');

    $r = client(origin => $origin);
    is($r->{status}, 401, 'no token: 401');
    like($r->{body} // '', qr/"code":"missing_token"/, 'with the JSON envelope');
    $r = client(cookie => '__Host-spa_at=not.a.token', origin => $origin);
    is($r->{status}, 401, 'a bad token: 401');
    $r = client(cookie => "__Host-spa_at=$token", origin => 'https://evil.example');
    is($r->{status}, 403, 'a foreign Origin: 403 (cross-site WebSocket hijacking)');
    like($r->{body} // '', qr/"code":"origin_not_allowed"/, 'origin_not_allowed');
    $r = client(cookie => "__Host-spa_at=$token", close_after_ms => 50);
    ok($r->{opened}, 'no Origin at all (not a browser): allowed');
};

step 'the token ends, the socket ends' => sub {
    $short = mint(claims => { sub => 'bob' }, ttl => 2);
    my $exp = decode_json(MIME::Base64::decode_base64url((split /\./, $short)[1]))->{exp};
    $r = client(cookie => "__Host-spa_at=$short", origin => $origin, wait_close_ms => 6000, send => ['hi']);
    ok($r->{opened}, 'a token that expires in 2 s opens a socket');
    is($r->{messages}[0]{text}, 'bob: hi', 'and it works');
    is($r->{close}{code}, 4401, 'then the client gets close code 4401');
    is($r->{close}{reason}, 'token expired', 'reason "token expired"');
    my $late = $r->{close}{at} / 1000 - $exp;
    ok($late >= -0.05 && $late < 1.0, sprintf('within a second of exp (%.3f s after)', $late));

    my $fresh = mint(claims => { sub => 'bob' }, ttl => 60);
    $r = client(cookie => "__Host-spa_at=$fresh", origin => $origin, close_after_ms => 50);
    ok($r->{opened}, 'with a refreshed token the client simply reconnects');

    $short = mint(claims => { sub => 'tls' }, ttl => 2);
    $exp = decode_json(MIME::Base64::decode_base64url((split /\./, $short)[1]))->{exp};
    $r = SpaAuth::WsPeers::client(url => "wss://127.0.0.1:$tls_port/ws/chat", cookie => "__Host-spa_at=$short",
                                  wait_close_ms => 6000, send => ['hi']);
    is($r->{messages}[0]{text}, 'tls: hi', 'wss: the socket works over TLS');
    is("$r->{close}{code} $r->{close}{reason}", '4401 token expired', 'wss: closed with 4401 at exp');
    $late = $r->{close}{at} / 1000 - $exp;
    ok($late >= -0.05 && $late < 1.0, sprintf('wss: within a second of exp (%.3f s after)', $late));
};

step 'a frame in flight is finished before the close frame' => sub {
    $big = 64 * 1024 * 1024;  # far more than the socket buffers hold
    $short = mint(claims => { sub => 'carol' }, ttl => 2);
    $r = client(cookie => "__Host-spa_at=$short", origin => $origin, wait_close_ms => 8000, send => ["big:$big"],
                pause_ms => [0, 3000]);  # not reading until 3 s: at exp (2 s) the frame is half sent
    like(SpaAuth::Test::error_log_text(), qr/websocket close due \(token expired\), waiting for the frame under way/,
         'at exp a frame was in flight, so the close waited');
    is(scalar @{ $r->{messages} }, 1, 'the big message arrived');
    is($r->{messages}[0]{len}, $big, 'whole');
    ok($r->{messages}[0]{ok}, 'and uncorrupted');
    is($r->{close}{code}, 4401, 'then the close frame, 4401');
};

step 'a client that will not read: no boundary within the bound, the connection is cut' => sub {
    $short = mint(claims => { sub => 'dave' }, ttl => 2);
    $r = client(cookie => "__Host-spa_at=$short", origin => $origin, wait_close_ms => 9000, send => ["big:$big"],
                pause_ms => [0, 6000]);
    isnt($r->{close}{code}, 4401, 'not reading past the bound: no close frame (' . ($r->{close}{code} // 'none') . ')');
    ok(!@{ $r->{messages} } || !$r->{messages}[0]{ok} || $r->{messages}[0]{len} != $big, 'and no whole message either');
};

step '1,000 authorized sockets in one worker' => sub {
    $token = mint(claims => { sub => 'many' }, ttl => 120);
    $r = client(cookie => "__Host-spa_at=$token", origin => $origin, sockets => 1000, hold_ms => 500);
    is($r->{greeted}, 1000, '1,000 concurrent sockets, each greeted');
    is($r->{failed}, 0, 'none failed');

    my $m = http_request('GET /metrics')->{body};
    like($m, qr/^spa_auth_websocket_closed_total\{reason="token expired"\} 3$/m, 'metrics: three closed at exp');
    like($m, qr/^spa_auth_websocket_closed_total\{reason="no frame boundary"\} 1$/m, 'one cut without a boundary');
    sleep 0.2;
};

stop_nginx();
my $log = SpaAuth::Test::error_log_text();
like($log, qr/websocket closed: token expired/, 'closes are logged');
unlike($log, qr/\[(error|alert|crit|emerg)\]/, 'no errors logged');
done_testing();
