# Two nodes, one PostgreSQL (issue 18): each node nginx with the module and
# its own spa-authd on the shared database, as behind a load balancer. A
# user signs up on A and logs in on B; tokens work on both at once; refresh
# alternates; a logout on A is refused on B (the lag printed); the same
# refresh token at both nodes at once rotates once; an open WebSocket on B
# closes at its recheck after a logout on A; MFA set up on A gates a login
# on B, completed on A; an OAuth login started on A comes back to B; PostgreSQL restarted mid-traffic (a WebSocket closed
# once the mirror cannot vouch); an authd killed on one node leaves the
# other alone.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Cluster;
use SpaAuth::WsPeers;
use SpaAuth::OidcProvider;
use File::Temp qw(tempdir);
use POSIX ();
use JSON::PP;
use MIME::Base64 ();
use Test::More;
use Time::HiRes qw(sleep time);

BAIL_OUT('tests/peers is not installed: run make deps') unless SpaAuth::WsPeers::available() && SpaAuth::OidcProvider::available();
# The site's public address (the load balancer's: nothing listens there);
# the provider sends browsers back to it, and the test takes each callback
# to the node it wants, as a balancer would.
my $public = 'https://localhost:' . SpaAuth::Test::free_port();
my $secrets = tempdir('spa-cluster-oauth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
SpaAuth::Test::write_file("$secrets/client-secret", "provider secret 1\n");
chmod 0600, "$secrets/client-secret" or die;
my $op = SpaAuth::OidcProvider->start(client_id => 'spa-test', client_secret => 'provider secret 1',
                                      redirect_uri => "$public/api/v1/oauth/test/callback");
my $c = SpaAuth::Cluster->start(nodes => 2, max_staleness => '3s', ws_port => SpaAuth::WsPeers::start_service(), tls => 1,
                                authd_extra => <<"TOML")
[oauth.test]
client_id = "spa-test"
client_secret_file = "$secrets/client-secret"
redirect_uri = "$public/api/v1/oauth/test/callback"
discovery = "$op->{issuer}/.well-known/openid-configuration"
TOML
    or BAIL_OUT('no cluster: ' . SpaAuth::Cluster::why());
my ($A, $B) = (0, 1);
my $origin = 'Origin: https://app.example.com';

sub code { my ($r) = @_; "$r->{status} " . ($r->{json}{error}{code} // '') }
sub svc { my ($node, $token) = @_; $c->get($node, '/svc/t', "Authorization: Bearer $token")->{status} }
sub login {
    my ($node, %u) = @_;
    return $c->api($node, POST => '/api/v1/auth/login', { email => $u{email}, password => $u{password} }, $origin);
}
# Waits (at most 10 s) until node's answer for the token is `want`; the seconds it took, or undef.
sub until_status {
    my ($node, $token, $want) = @_;
    my $t0 = time;
    while (time - $t0 < 10) {
        return time - $t0 if svc($node, $token) == $want;
        sleep 0.005;
    }
    return undef;
}

my %u = (email => 'cluster@example.com', username => 'cluster', password => 'cluster password 1');
my ($tokens, $r);

step 'sign-up on A, login on B, the token at once on both' => sub {
    is($c->api($A, POST => '/api/v1/auth/signup', \%u, $origin)->{status}, 201, 'sign-up on A');
    $r = login($B, %u);
    is($r->{status}, 200, 'login on B') or diag($r->{body});
    $tokens = $r->{json}{data};
    # No 401 window: A's mirror may not hold the session yet, and must take it.
    is(svc($A, $tokens->{access_token}), 200, 'the new token passes on A at once');
    is(svc($B, $tokens->{access_token}), 200, 'and on B');
};

step 'refresh alternating A and B' => sub {
    for my $i (1 .. 6) {
        my $node = $i % 2 ? $A : $B;
        $r = $c->api($node, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin);
        is($r->{status}, 200, "refresh $i on " . $c->node($node)->{name}) or diag($r->{body});
        $tokens = $r->{json}{data};
        is(svc(1 - $node, $tokens->{access_token}), 200, 'its access token passes on the other node');
    }
};

step 'a logout on A is refused on B' => sub {
    my $at = $tokens->{access_token};
    is(svc($B, $at), 200, 'the token passes on B before');
    $r = $c->api($A, POST => '/api/v1/auth/logout', { refresh_token => $tokens->{refresh_token} }, "Authorization: Bearer $at");
    is($r->{status}, 200, 'logout on A');
    is(svc($A, $at), 401, 'refused on A at once (its answer waited for its mirror)');
    my $lag = until_status($B, $at, 401);
    ok(defined $lag, 'refused on B');
    diag(sprintf 'revocation propagation: B refused the token %.1f ms after A answered the logout', 1000 * ($lag // 0));
};

# A WebSocket client on node i in the background; its result file.
sub ws_open {
    my ($node, $token, $name) = @_;
    my $result = $c->node($node)->{dir} . "/ws-$name.json";
    my $url = 'ws://127.0.0.1:' . $c->node($node)->{port} . '/ws/chat';
    my $pid = fork // die;
    if ($pid == 0) {
        my $r = SpaAuth::WsPeers::client(url => $url, protocols => ['bearer', $token], wait_close_ms => 12000);
        SpaAuth::Test::write_file($result, encode_json($r));
        POSIX::_exit(0);
    }
    return [$pid, $result];
}
sub ws_result {
    my ($ws) = @_;
    waitpid($ws->[0], 0);
    return eval { decode_json(do { local $/; open my $fh, '<', $ws->[1] or die; <$fh> }) } // {};
}

step 'an open WebSocket on B closes after a logout on A' => sub {
    my $t = login($A, %u)->{json}{data};
    my $ws = ws_open($B, $t->{access_token}, 'logout');
    sleep 1.5;  # open, and one recheck passed with the session alive
    is($c->api($A, POST => '/api/v1/auth/logout', { refresh_token => $t->{refresh_token} },
               "Authorization: Bearer $t->{access_token}")->{status}, 200, 'logout on A');
    my $r = ws_result($ws);
    ok($r->{opened}, 'the socket on B was open');
    is($r->{close}{code}, 4401, 'closed 4401 at its next recheck');
    is($r->{close}{reason}, 'session revoked', 'reason "session revoked"');
};

step 'the same refresh token at both nodes at once rotates once' => sub {
    my $before = $c->pg->psql('select count(*) from spa_sessions');
    $tokens = login($A, %u)->{json}{data};
    for my $round (1 .. 15) {
        my @answers;
        my @pids;
        for my $node ($A, $B) {
            pipe(my $rd, my $wr) or die;
            my $pid = fork // die;
            if ($pid == 0) {
                close $rd;
                my $res = $c->api($node, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin);
                print $wr encode_json({ status => $res->{status}, rt => $res->{json}{data}{refresh_token} // '' });
                close $wr;
                POSIX::_exit(0);
            }
            close $wr;
            push @pids, [$pid, $rd];
        }
        for (@pids) {
            my ($pid, $rd) = @$_;
            local $/;
            push @answers, decode_json(<$rd> // '{}');
            waitpid($pid, 0);
        }
        is(join(' ', map { $_->{status} } @answers), '200 200', "round $round: both nodes answer");
        is($answers[0]{rt}, $answers[1]{rt}, "round $round: with the same successor") or last;
        $tokens->{refresh_token} = $answers[0]{rt};
    }
    is($c->pg->psql('select count(*) from spa_sessions') - $before, 1, "one session more, this login's: no family forked");
    my ($sid) = decode_json(MIME::Base64::decode_base64url((split /\./, $tokens->{access_token})[1]))->{sid} =~ /^([0-9a-f]{32})$/;
    is($c->pg->psql("select count(*) from spa_session_refresh where substring(k from 1 for 32) = convert_to('$sid', 'UTF8')"),
       16, 'its refresh tokens: the first and one successor per round, never two');
};

step 'a key rotation on A: published by both nodes, then signing on both' => sub {
    my $kid_of = sub { decode_json(MIME::Base64::decode_base64url((split /\./, $_[0])[0]))->{kid} };
    my $jwks_of = sub { local $/; open my $fh, '<', $c->node($_[0])->{dir} . '/authd/jwks.json' or return ''; <$fh> // '' };
    my $before = $kid_of->(login($B, %u)->{json}{data}{access_token});
    like($jwks_of->($A), qr/"kid": "\Q$before\E"/, "A's JWKS holds the key B signs with: one key set");
    my $out = `@{[ build_dir() ]}/spa-authd keys rotate --config @{[ $c->node($A)->{dir} ]}/authd.toml 2>&1`;
    is($? >> 8, 0, 'keys rotate on A') or diag($out);
    my ($kid) = $out =~ /published key (\S+);/;
    ok($kid && $kid ne $before, "a new key: $kid");
    my $t0 = time;
    sleep 0.05 until index($jwks_of->($B), $kid) >= 0 || time - $t0 > 10;
    like($jwks_of->($B), qr/\Q$kid\E/, "B publishes it (@{[ sprintf '%.1f', time - $t0 ]} s after the rotation)");
    my $t = login($B, %u)->{json}{data};
    is($kid_of->($t->{access_token}), $before, 'B goes on signing with the old key for now');
    until ($kid_of->($t->{access_token}) eq $kid || time - $t0 > 15) {
        sleep 0.25;
        $t = login($B, %u)->{json}{data};
    }
    is($kid_of->($t->{access_token}), $kid, 'then B signs with the new key');
    is(svc($A, $t->{access_token}), 200, "and A's nginx takes it");
    is(svc($B, $t->{access_token}), 200, "and B's");
    is($c->pg->psql('select count(*) from spa_signing_keys'), 2, 'both keys in the database, sealed');
    unlike($c->pg->psql("select encode(sealed, 'escape') from spa_signing_keys"), qr/PRIVATE KEY/, 'no private key in the clear');
};

step 'MFA set up on A gates a login on B, completed on A' => sub {
    plan skip_all => 'oathtool not installed' unless -x '/usr/bin/oathtool';
    my $at = login($A, %u)->{json}{data}{access_token};
    my $auth = "Authorization: Bearer $at";
    my $secret = $c->api($A, POST => '/api/v1/mfa/setup', {}, $auth)->{json}{data}{secret};
    my $oath = sub { chomp(my $x = `oathtool --totp --base32 -N \@@{[ time + $_[0] ]} $secret`); $x };
    is($c->api($B, POST => '/api/v1/mfa/enable', { code => $oath->(0) }, $auth)->{status}, 200, 'enabled on B with the seed set up on A');
    $r = login($B, %u);
    ok($r->{json}{data}{mfa_required}, 'login on B asks for the second factor');
    $r = $c->api($A, POST => '/api/v1/mfa/verify', { mfa_token => $r->{json}{data}{mfa_token}, code => $oath->(30) });
    is($r->{status}, 200, 'completed on A') or diag($r->{body});
    is(svc($B, $r->{json}{data}{access_token}), 200, 'its token passes on B');
    $tokens = $r->{json}{data};
};

step 'an OAuth login started on A, its callback on B' => sub {
    my $start = $c->browse(GET => $c->https_base($A) . '/api/v1/oauth/test/start?redirect_to=/app');
    is($start->{status}, 303, '/start on A: to the provider') or diag($start->{body});
    my $callback = $op->sign_in($c, $start->{headers}{location}[0], login => 'oliver');
    like($callback // '', qr{^\Q$public\E/api/v1/oauth/test/callback\?code=}, 'the provider sends the browser back to the site');
    (my $on_b = $callback // '') =~ s/^\Q$public\E/$c->https_base($B)/e;
    my $r = $c->browse(GET => $on_b);
    is($r->{status}, 303, 'the callback on B') or diag($r->{body});
    is($r->{headers}{location}[0], '/app', 'to redirect_to: the state and its binding cookie were found on B');
    my $at = $c->cookie('__Host-spa_at');
    ok($at, 'the session cookies set by B');
    is(svc($A, $at), 200, 'the session passes on A at once');
    is(svc($B, $at), 200, 'and on B');
    (my $on_a = $callback // '') =~ s/^\Q$public\E/$c->https_base($A)/e;
    is($c->browse(GET => $on_a)->{headers}{location}[0], '/login?error=invalid_state',
       'the same callback on A: the state was spent for the whole cluster');
    my $me = $c->browse(GET => $c->https_base($A) . '/api/v1/auth/me', headers => ["Authorization: Bearer $at"]);
    is_deeply($me->{json}{data}{user}{providers}, ['test'], 'one account, linked to the provider, seen from A');
};

step 'PostgreSQL restarted mid-traffic' => sub {
    my $at = $tokens->{access_token};
    my $ws = ws_open($B, $at, 'stale');
    sleep 1.5;
    ok($c->pg->stop, 'PostgreSQL stopped');
    is(code(login($A, %u)), '503 store_unavailable', 'auth on A: 503 while it is down');
    is(code($c->api($B, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin)),
       '503 store_unavailable', 'a refresh on B: 503');
    is(svc($B, $at), 200, 'protected paths still work from the mirror');
    my $closed = until_status($B, $at, 503);
    ok(defined $closed, 'then fail closed, once max_staleness (3 s) has passed');
    diag(sprintf 'B failed closed %.1f s after PostgreSQL stopped', $closed // 0);
    is(svc($A, $at), 503, 'on A too');
    my $w = ws_result($ws);
    ok($w->{opened}, 'a WebSocket open on B before the outage');
    is($w->{close}{reason}, 'session unverifiable', 'closed once the mirror could not vouch for its session');
    like($c->error_log($B), qr/session mirror was last confirmed current \d+ s ago/, "B's nginx says why");
    ok($c->pg->start_again, 'PostgreSQL started again');
    ok(defined until_status($B, $at, 200), 'B vouches again once its authd reconnected');
    ok(defined until_status($A, $at, 200), 'and A');
    is(login($A, %u)->{status}, 200, 'auth works again');
    like($c->authd_log($A), qr/"event":"store_unavailable"/, "A's authd logged the outage");
};

step 'an authd killed on one node leaves the other alone' => sub {
    $c->stop_authd($A, 'KILL');
    is($c->api($A, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin)->{status}, 502,
       'A: its authd is gone (502)');
    $r = $c->api($B, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin);
    is($r->{status}, 200, 'B refreshes') or diag($r->{body});
    my $at = $r->{json}{data}{access_token};
    is(svc($B, $at), 200, 'and its tokens pass on B');
    ok(defined until_status($A, $at, 503), "A's nginx fails closed once its mirror is unconfirmed for max_staleness");
    is(svc($B, $at), 200, 'B is unaffected');
    ok($c->start_authd($A), "A's authd started again") or diag(SpaAuth::Cluster::why());
    ok(defined until_status($A, $at, 200), 'A vouches again');
};

done_testing();
