# The machine's clock steps an hour back and an hour forward while nginx
# runs (libfaketime reading its offset from a file that the test
# rewrites; only nginx is under it: the tokens are minted on the real
# clock, as by an issuer whose clock did not move). What it proves:
#
# - Tokens are judged by the wall clock as it is now, with the configured
#   leeway (docs/module.md "Decisions", core/claims): a step forward past
#   `exp` + leeway is 401 invalid_token (`expired`), one within the leeway
#   still passes; a step back before `nbf`/`iat` by more than the leeway is
#   401 invalid_token (`not_yet_valid`), within it passes. A cached token
#   is judged again at every request (the cache never decides the time).
# - Rate limits (docs/module.md "Rate limits") count on nginx's monotonic
#   clock, which an NTP step leaves alone (the realistic fault:
#   FAKETIME_DONT_FAKE_MONOTONIC): a wall clock an hour back or forward
#   neither locks a key out nor refills its bucket.
# - And should the monotonic clock itself jump (libfaketime fakes it too,
#   the worst case), a clock an hour back holds a key for at most one
#   interval more (the GCRA clamp: never longer than one period), and an
#   hour forward grants the documented burst, N requests, not one more.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Test::More;

skip_faked_nginx_under_sanitizers();

data_dir();
my $clock;
sub conf {
    return (
        faketime_file => $clock,
        @_,
        http_config => q{
            spa_auth_jwks_file @DATA@/jwks.json;
            spa_auth_leeway 30s;
            spa_auth_limit_zone $binary_remote_addr zone=login:1m rate=3/1h;
        },
        config => q{
            location /api/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
            location = /login { spa_auth_limit zone=login; alias @DIR@/html/t; }
        },
    );
}
sub get { my ($path, @h) = @_; http_request("GET $path", join("\n", @h)) }
sub h { my ($r, $name) = @_; $r->{headers}{lc $name}[0] // '' }
sub api {
    my ($token) = @_;
    my $r = json_request(GET => '/api/x', undef, "Authorization: Bearer $token");
    return $r->{status} == 200 ? '200' : error_of($r);
}
sub refusals { my @l = error_log_text() =~ /token refused: (\w+)/g; join ',', @l }

SpaAuth::Test::prepare_prefix();
$clock = SpaAuth::Test::prefix() . '/clock';
my ($ok, $out) = start_nginx(conf(), reuse_prefix => 1);
ok($ok, 'nginx starts under a clock that can jump') or BAIL_OUT($out);

step 'tokens: a step forward past exp' => sub {
    my $token = mint(ttl => 900);
    is(api($token), '200', 'a fresh token passes');
    set_clock($clock, '+910s');
    is(api($token), '200', '10 s past exp, inside the 30 s leeway: still passes (a cached token)');
    set_clock($clock, '+3600s');
    is(api($token), '401 invalid_token', 'an hour forward: 401 invalid_token');
    is(api(mint(ttl => 900)), '401 invalid_token', '... a token the worker never saw is judged the same');
    set_clock($clock, '+0');
    is(api($token), '200', 'back to the right time: the same token passes again (nothing was remembered)');
    is(refusals(), 'expired,expired', 'each refusal logged as expired');
};

step 'tokens: a step back before nbf and iat' => sub {
    my $token = mint(ttl => 900);
    set_clock($clock, '-15s');
    is(api($token), '200', 'nbf 15 s ahead, inside the leeway: passes');
    set_clock($clock, '-3600s');
    is(api($token), '401 invalid_token', 'an hour back: 401 invalid_token');
    # About an hour: the token was minted a second or so before the clock moved (3599 s happens).
    like(error_log_text(), qr/token refused: not_yet_valid \(nbf is 3[56]\d\ds in the future\)/,
         '... logged as not_yet_valid, with how far ahead');
    set_clock($clock, '+0');
    is(api($token), '200', 'back to the right time: it passes');
};

step 'rate limits: the wall clock steps, the monotonic clock does not' => sub {
    set_clock($clock, '+0');
    is(get('/login')->{status}, 200, "login $_: 200") for 1 .. 3;
    my $r = get('/login');
    is($r->{status}, 429, 'the fourth inside the hour: 429');
    is(h($r, 'Retry-After'), '1200', '... Retry-After one interval (1h/3)');
    set_clock($clock, '-3600s');
    $r = get('/login');
    is("$r->{status} " . h($r, 'Retry-After'), '429 1200', 'an hour back: the same wait, not an hour more');
    set_clock($clock, '+3600s');
    $r = get('/login');
    is("$r->{status} " . h($r, 'Retry-After'), '429 1200', 'an hour forward: no new burst (no time passed)');
};

stop_nginx();
unlike(error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'no [error] or worse in the log');

step 'rate limits: the monotonic clock jumps too (worst case)' => sub {
    SpaAuth::Test::prepare_prefix();
    $clock = SpaAuth::Test::prefix() . '/clock';
    my ($ok, $out) = start_nginx(conf(), reuse_prefix => 1, fake_monotonic => 1);
    ok($ok, 'nginx starts with its monotonic clock faked as well') or BAIL_OUT($out);
    is(get('/login')->{status}, 200, "login $_: 200") for 1 .. 3;
    is(get('/login')->{status}, 429, 'the fourth: 429');
    set_clock($clock, '-3600s');
    my $r = get('/login');
    is("$r->{status} " . h($r, 'Retry-After'), '429 1200',
       'an hour back: held one interval, not an hour and more (the key waits at most one period)');
    set_clock($clock, '-2400s');
    is(get('/login')->{status}, 200, 'an interval later (by the jumped clock) one passes');
    set_clock($clock, '+3600s');
    my @burst = map { get('/login')->{status} } 1 .. 4;
    is("@burst", '200 200 200 429', 'an hour forward: a full bucket, three, and not one more');
    stop_nginx();
    unlike(error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'no [error] or worse in the log');
};

done_testing();
