# The machine's clock steps an hour forward and an hour back with nginx
# and spa-authd both under it (one offset file, as one machine has one
# clock; libfaketime, the monotonic clock left real as NTP leaves it).
# What it proves: a signed-in user gets through the step on their own.
# - An hour forward: the access token is past exp (401 invalid_token,
#   `expired`); a refresh gives a pair stamped with the new time, which
#   nginx accepts; the session is the same one (logout ends it at once).
# - An hour back: the token made "in the future" is refused until the
#   clock reaches its nbf/iat (401 invalid_token, `not_yet_valid`); a
#   refresh answers (the refresh token's expiry is far ahead either way)
#   and its new access token passes.
# - A rotated-out refresh token used again after a step back is still
#   reuse, which ends the session at the proxy at once (before: the
#   rotation lay "in the future", every use of it looked like a parallel
#   tab's inside `refresh_grace`, and it got the successor pair).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;

skip_faked_nginx_under_sanitizers();

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $clock = "$dir/clock";
start_authd(mode => 'bearer', grace => 2, faketime_file => $clock);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    faketime_file => $clock,
    http_config => '
        spa_auth_jwks_file @DIR@/authd/jwks.json;
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;
        spa_auth_leeway 30s;',
    config => '
        location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
        location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }',
);
ok($ok, 'nginx starts on the same clock') or BAIL_OUT($out);

sub api { json_request(POST => @_) }
sub svc {
    my ($token) = @_;
    my $r = http_request('GET /svc/x', "Authorization: Bearer $token");
    return "$r->{status} " . ($r->{headers}{'x-result'}[0] // '');
}
sub refresh { api('/api/v1/auth/refresh', { refresh_token => $_[0] }) }
sub claims { decode_json(MIME::Base64::decode_base64url((split /\./, $_[0])[1])) }

my %u = (email => 'clockwise@example.com', username => 'clockwise', password => 'clockwise password');
my ($pair, $sid);
step 'signed in' => sub {
    is(api('/api/v1/auth/signup', \%u)->{status}, 201, 'sign-up');
    $pair = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data};
    ok($pair->{access_token} && $pair->{refresh_token}, 'a token pair');
    $sid = claims($pair->{access_token})->{sid};
    is(svc($pair->{access_token}), '200 ok', 'the access token passes');
};

step 'an hour forward' => sub {
    set_clock($clock, '+3600s');
    is(svc($pair->{access_token}), '401 expired', 'the access token is past exp: 401 (expired)');
    my $r = refresh($pair->{refresh_token});
    is($r->{status}, 200, 'the refresh works');
    my $new = $r->{json}{data};
    my $c = claims($new->{access_token} // '');
    ok(abs($c->{iat} - (time + 3600)) < 60, 'the new access token is stamped with the clock as it now is');
    is($c->{sid}, $sid, '... for the same session');
    is(svc($new->{access_token}), '200 ok', '... and nginx accepts it');
    $pair = $new;
};

my $old_refresh;
step 'an hour back (to the true time)' => sub {
    set_clock($clock, '+0');
    is(svc($pair->{access_token}), '401 not_yet_valid', 'the token made an hour ahead is not yet valid: 401');
    $old_refresh = $pair->{refresh_token};
    my $r = refresh($old_refresh);
    is($r->{status}, 200, 'the refresh works');
    $pair = $r->{json}{data};
    is(svc($pair->{access_token}), '200 ok', 'its new access token passes');
    set_clock($clock, '-3600s');
    is(svc($pair->{access_token}), '401 not_yet_valid', 'another hour back: refused again');
    my $again = refresh($pair->{refresh_token});
    is($again->{status}, 200, '... and a refresh mends it');
    my $stale = $pair->{refresh_token};
    $pair = $again->{json}{data};
    is(svc($pair->{access_token}), '200 ok', '... the new token passes');
    # A rotated-out refresh token, used again later: reuse. The clock went
    # back, so "later" by the clock is earlier than its rotation; it must
    # not fall into the grace window (2 s here) because of that.
    set_clock($clock, '-7200s');
    my $reuse = refresh($old_refresh);
    is(error_of($reuse), '401 invalid_token', 'a refresh token rotated out long ago, used again: refused');
};

step 'that reuse ended the session, at the proxy at once' => sub {
    set_clock($clock, '-3600s');  # where the session's live access token was made
    is(svc($pair->{access_token}), '401 revoked', 'the session\'s live access token: revoked at the next request');
    set_clock($clock, '+0');
    is(error_of(refresh($pair->{refresh_token})), '401 invalid_token', 'its live refresh token too, at the true time');
    my $again = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data};
    is(svc($again->{access_token} // ''), '200 ok', 'signing in again works');
};

is(stop_authd('TERM'), 0, 'spa-authd stops cleanly');
stop_nginx();
unlike(error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'no [error] or worse in nginx');
done_testing();
