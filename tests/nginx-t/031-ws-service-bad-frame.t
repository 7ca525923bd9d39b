# The demo WebSocket service (tests/peers/ws-service.mjs) behind nginx: a
# frame with reserved bits set closes that socket only; the next client
# still gets in.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::WsPeers;
use IO::Select;
use IO::Socket::INET;
use Test::More;

BAIL_OUT('tests/peers is not installed: run make deps') unless SpaAuth::WsPeers::available();
my $ws_port = SpaAuth::WsPeers::start_service();
my ($ok, $out) = start_nginx(
    http_config => 'spa_auth_jwks_file @DATA@/jwks.json;',
    config => "location /ws/ { spa_auth on; spa_auth_websocket on; spa_auth_claim_header X-User-Name sub; proxy_pass http://127.0.0.1:$ws_port; }",
);
ok($ok, 'nginx starts') or BAIL_OUT($out);
my $token = mint(claims => { sub => 'rsv' }, ttl => 60);

# Reads what arrives until the peer closes (or 5 s pass without a byte).
sub read_all {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    while ($sel->can_read(5)) {
        my $n = sysread($s, $buf, 65536, length $buf);
        return ($buf, 1) unless $n;
    }
    return ($buf, 0);
}

for my $bits ([0x40, 'RSV1'], [0x20, 'RSV2'], [0x10, 'RSV3']) {
    my ($bit, $name) = @$bits;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => SpaAuth::Test::port(), Timeout => 5) or die;
    print $s "GET /ws/chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           . "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           . "Authorization: Bearer $token\r\n\r\n";
    my $head = '';
    while ($head !~ /\r\n\r\n/) { my $n = sysread($s, $head, 1, length $head); last unless $n }
    like($head, qr{^HTTP/1\.1 101}, "$name: upgraded");
    # A masked text frame "hi" with the reserved bit set.
    my $mask = "\x01\x02\x03\x04";
    my $payload = join '', map { chr(ord(substr('hi', $_, 1)) ^ ord(substr($mask, $_ % 4, 1))) } 0 .. 1;
    print $s chr(0x80 | $bit | 0x1) . chr(0x80 | 2) . $mask . $payload;
    my ($rest, $eof) = read_all($s);
    ok($eof, "$name: the service closed that socket");
    close $s;
    my $r = SpaAuth::WsPeers::client(url => 'ws://127.0.0.1:' . SpaAuth::Test::port() . '/ws/chat',
                                     cookie => "__Host-spa_at=$token", send => ['again'], close_after_ms => 100);
    ok($r->{opened}, "$name: a second connection still works");
    is($r->{messages}[0]{text}, 'rsv: again', "$name: and the service answers");
}
stop_nginx();
done_testing();
