# 10,000 requests mixing every result the module gives — ok, missing,
# malformed, alg none, bad signature, unknown kid, expired, not yet valid,
# wrong issuer and audience, forbidden, mfa_required, duplicate_cookie,
# revoked, rate limited, a refused WebSocket upgrade, many distinct tokens
# through the cache — with a JWKS rotation and an `nginx -s reload` in the
# middle. Every answer is the one its kind must get, and no worker dies.
# Under `make test SANITIZE=1` this is the leak check of the module: the
# workers of before the reload exit at the reload and the others at the
# end, each checked by LeakSanitizer, and any report fails the run.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $data = data_dir();
my $jwks = "$dir/jwks.json";
write_file($jwks, jwks_for(qw(ed es256)));
start_authd(mode => 'bearer');
my $iss = 'https://app.example.com';
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    workers => 2,
    http_config => '
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;
        spa_auth_limit_zone $http_x_key zone=soak:1m rate=3/1h;',
    config => '
        add_header X-Result $spa_auth_result always;
        location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
        location /s/ { spa_auth on; spa_auth_jwks_file @DIR@/authd/jwks.json; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
        location /t/ { spa_auth on; spa_auth_jwks_file @DIR@/jwks.json; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
        location /admin/ { spa_auth on; spa_auth_jwks_file @DIR@/jwks.json; spa_auth_require role admin;
                           proxy_pass http://127.0.0.1:@ECHO_PORT@; }
        location /mfa/ { spa_auth on; spa_auth_jwks_file @DIR@/jwks.json; spa_auth_require_mfa on;
                         proxy_pass http://127.0.0.1:@ECHO_PORT@; }
        location /limited/ { spa_auth_limit zone=soak; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
        location /ws/ { spa_auth on; spa_auth_websocket on; spa_auth_jwks_file @DIR@/jwks.json;
                        proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

# Two logged-in users of spa-authd: one stays, one logs out.
my (%authd, %sid, %uid);
for my $who (qw(stays leaves)) {
    my $s = json_request(POST => '/api/v1/auth/signup', { email => "$who\@example.com", username => $who, password => "pw of $who, long enough" });
    is($s->{status}, 201, "$who signs up");
    my $l = json_request(POST => '/api/v1/auth/login', { email => "$who\@example.com", password => "pw of $who, long enough" });
    is($l->{status}, 200, "$who logs in");
    $authd{$who} = $l->{json}{data}{access_token};
    $sid{$who} = $l->{json}{data}{session_id};
    $uid{$who} = $l->{json}{data}{user}{id};
}
ok($sid{stays}, 'the session id is in the answer');
# The test's own tokens name the live session and its user (with a session
# store, a token must name one, of its subject).
my %c = (iss => $iss, aud => 'spa', sub => $uid{stays}, role => 'user', sid => $sid{stays});
sub tok { my (%o) = @_; mint(key => 'ed', ttl => 600, %o, claims => { %c, %{ $o{claims} // {} } }) }
is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $authd{leaves}")->{status}, 200, 'one logs out');

# Each kind: a request and the result it must get (before and after the
# rotation, which publishes ed2 and withdraws ed).
my $valid = tok();
my $next = mint(key => 'ed2', ttl => 600, claims => \%c);
my @fresh = map { tok(claims => { n => $_ }) } 1 .. 150;    # distinct tokens: cache misses
my $bearer = sub { "Authorization: Bearer $_[0]" };
my @kinds = (
    ['valid', 'GET /t/x', $bearer->($valid), '200 ok', '401 unknown_kid'],
    ['valid ES256', 'GET /t/x', $bearer->(mint(key => 'es256', alg => 'ES256', ttl => 600, claims => \%c)), '200 ok', '401 unknown_kid'],
    ['fresh', 'GET /t/x', sub { $bearer->($fresh[$_[0] % @fresh]) }, '200 ok', '401 unknown_kid'],
    ['next key', 'GET /t/x', $bearer->($next), '401 unknown_kid', '200 ok'],
    ['missing', 'GET /t/x', '', '401 missing', '401 missing'],
    ['malformed', 'GET /t/x', $bearer->('a.b.c'), '401 malformed', '401 malformed'],
    ['alg none', 'GET /t/x', $bearer->(raw_token('{"alg":"none"}', encode_json({ %c, exp => time + 600 }))), '401 malformed', '401 malformed'],
    ['HS256, not allowed', 'GET /t/x', $bearer->(mint(hmac => 1, alg => 'HS256', ttl => 600, claims => \%c)), '401 alg_not_allowed', '401 alg_not_allowed'],
    ['no sid', 'GET /t/x', $bearer->(mint(key => 'ed', ttl => 600, claims => { %c, sid => undef })), '401 revoked', '401 unknown_kid'],
    ['bad signature', 'GET /t/x', $bearer->(flip_sig($valid)), '401 bad_signature', '401 unknown_kid'],
    ['stranger key', 'GET /t/x', $bearer->(mint(key => 'stranger', kid => kid_of('ed'), ttl => 600, claims => \%c)), '401 bad_signature', '401 unknown_kid'],
    ['expired', 'GET /t/x', $bearer->(tok(ttl => -120)), '401 expired', '401 unknown_kid'],
    ['not yet valid', 'GET /t/x', $bearer->(tok(claims => { nbf => time + 3600 })), '401 not_yet_valid', '401 unknown_kid'],
    ['wrong issuer', 'GET /t/x', $bearer->(tok(claims => { iss => 'https://evil.example' })), '401 wrong_issuer', '401 unknown_kid'],
    ['wrong audience', 'GET /t/x', $bearer->(tok(claims => { aud => 'other' })), '401 wrong_audience', '401 unknown_kid'],
    ['forbidden', 'GET /admin/x', $bearer->($valid), '403 forbidden', '401 unknown_kid'],
    ['admin', 'GET /admin/x', $bearer->(tok(claims => { role => 'admin' })), '200 ok', '401 unknown_kid'],
    ['mfa required', 'GET /mfa/x', $bearer->($valid), '401 mfa_required', '401 unknown_kid'],
    ['with mfa', 'GET /mfa/x', $bearer->(mint(key => 'ed2', ttl => 600, claims => { %c, amr => ['pwd', 'otp'] })), '401 unknown_kid', '200 ok'],
    ['duplicate cookie', 'GET /t/x', "Cookie: __Host-spa_at=$valid; __Host-spa_at=$valid", '401 duplicate_cookie', '401 duplicate_cookie'],
    ['session', 'GET /s/x', $bearer->($authd{stays}), '200 ok', '200 ok'],
    ['revoked', 'GET /s/x', $bearer->($authd{leaves}), '401 revoked', '401 revoked'],
    ['limited', 'GET /limited/x', sub { 'X-Key: k' . ($_[0] % 40) }, 'limited', 'limited'],
    ['ws refused', 'GET /ws/x', "Upgrade: websocket\nConnection: Upgrade\nSec-WebSocket-Version: 13\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", '401 missing', '401 missing'],
);

# Rate limits: 3 an hour per key, so a key's first three pass, then 429.
my %limit_seen;
sub run_phase {
    my ($phase, $count) = @_;
    my (%wrong, %seen);
    for my $i (0 .. $count - 1) {
        my $k = $kinds[$i % @kinds];
        my ($name, $line, $headers) = @$k;
        $headers = $headers->($i) if ref $headers;
        my $r = http_request($line, $headers);
        my $got = "$r->{status} " . ($r->{headers}{'x-result'}[0] // '');
        my $want = $k->[$phase + 3];
        if ($want eq 'limited') {
            my $n = ++$limit_seen{$headers};
            $want = $n <= 3 ? '200 ' : '429 ';
            $got = "$r->{status} ";
        }
        $seen{$name}++;
        push @{ $wrong{$name} }, "$got (want $want)" if $got ne $want;
    }
    for my $name (map { $_->[0] } @kinds) {
        ok(!$wrong{$name}, "phase $phase: $name, $seen{$name} requests, each as it must be")
            or diag(scalar(@{ $wrong{$name} }) . " wrong, first: $wrong{$name}[0]");
    }
}

# This nginx's workers: the children of its master.
sub worker_pids {
    open my $fh, '<', "$dir/logs/nginx.pid" or return ();
    chomp(my $master = <$fh>);
    my @pids;
    for my $p (glob '/proc/[0-9]*/status') {
        open my $st, '<', $p or next;
        local $/;
        my $text = <$st> // '';
        push @pids, $1 if $text =~ /^PPid:\s+$master$/m && $text =~ /^Pid:\s+(\d+)$/m;
    }
    return sort @pids;
}

step 'first half: 5,000 requests' => sub { run_phase(0, 5000) };

step 'the JWKS rotates: ed2 published, then ed withdrawn' => sub {
    write_file("$jwks.tmp", jwks_for(qw(ed ed2 es256)));
    rename "$jwks.tmp", $jwks or die;
    sleep 1.2;
    is(http_request('GET /t/x', $bearer->($next))->{status}, 200, 'a token of the new key is accepted');
    is(http_request('GET /t/x', $bearer->($valid))->{status}, 200, 'one of the old key still is');
    write_file("$jwks.tmp", jwks_for(qw(ed2)));
    rename "$jwks.tmp", $jwks or die;
    sleep 1.2;
};

step 'nginx -s reload' => sub {
    my @before = worker_pids();
    is(scalar @before, 2, 'two workers before');
    my $nginx = $ENV{SPA_NGINX} || 'nginx';
    is(system("$nginx -p $dir -c $dir/conf/nginx.conf -s reload"), 0, 'reload');
    my @after;
    for (1 .. 500) {
        @after = worker_pids();
        my %old = map { $_ => 1 } @before;
        last if @after == 2 && !grep { $old{$_} } @after;
        sleep 0.02;
    }
    my %old = map { $_ => 1 } @before;
    is(scalar(grep { !$old{$_} } @after), 2, 'two new workers, the old ones gone');
};

step 'second half: 5,000 requests, the old key withdrawn' => sub { run_phase(1, 5000) };

step 'nothing died' => sub {
    my $log = error_log_text();
    unlike($log, qr/exited on signal/, 'no worker exited on a signal');
    unlike($log, qr/\[(alert|emerg)\]/, 'no alert');
    is(http_request('GET /s/x', $bearer->($authd{stays}))->{status}, 200, 'spa-authd\'s session still works');
};

stop_nginx();
is(stop_authd('TERM') >> 8, 0, 'spa-authd stops cleanly (under SANITIZE=1: and its leak check runs)');

done_testing();
