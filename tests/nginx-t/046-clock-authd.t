# The machine's clock steps back and forward by hours while spa-authd
# runs (libfaketime reading its offset from a file the test rewrites, the
# monotonic clock left alone as NTP leaves it; only spa-authd is under
# it, since the lockout and the sweeper are its own and nginx here only
# passes requests). What it proves (docs/authd.md "Accounts", "Sweeping"):
#
# - A lockout never outlasts its own length because the clock went back:
#   a lock whose end lies further ahead than the lock is long can only
#   come from a clock that went back, and is over (before: an hour back
#   held a 60 s lock for an hour and a minute). The count of lockouts is
#   kept, so the next lock is the doubled one.
# - A clock stepping forward past a lock's end ends it, as documented.
# - The sweeper, every second here, deletes what is expired by the clock
#   as it is now: after a step back it deletes no reset link that is
#   still valid (the link still works afterwards), after a step forward it
#   deletes the links that are then expired.
# - Mail's per-recipient buckets do not hold a link back after a step
#   back (they run on the monotonic clock; on the wall clock a reset link
#   two hours back waited an interval, its 202 saying nothing).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::SmtpSink;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $clock = "$dir/clock";
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$dir/mail");
my $toml = SpaAuth::Test::authd_toml(mode => 'bearer', extra => <<"TOML");
[smtp]
url = "smtp://127.0.0.1:$smtp_port"
from = "no-reply\@example.com"
TOML
$toml =~ s/^\[store\]\n/[store]\nsweep_interval = "1s"\n/m;
start_authd(toml => $toml, faketime_file => $clock);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub api { json_request(POST => @_) }
sub login { my ($u, $pw) = @_; api('/api/v1/auth/login', { email => $u->{email}, password => $pw // $u->{password} }) }
sub answer { my ($r) = @_; join ' ', $r->{status}, $r->{json}{error}{code} // (), $r->{headers}{'retry-after'}[0] // () }
sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; scalar <$fh> }
# Reset links swept so far, by the sweeper's own log lines.
sub swept_links {
    my $n = 0;
    for (split /\n/, authd_log()) {
        my $l = eval { decode_json($_) } or next;
        $n += $l->{reset_tokens} // 0 if ($l->{event} // '') eq 'store_swept';
    }
    return $n;
}
sub wait_swept {
    my ($want) = @_;
    for (1 .. 250) { return $want if swept_links() >= $want; sleep 0.02 }
    return swept_links();
}
sub reset_link {
    my ($u) = @_;
    my $before = () = SpaAuth::SmtpSink::messages("$dir/mail");
    is(api('/api/v1/auth/password-reset/request', { email => $u->{email} })->{status}, 202, "reset link asked for $u->{username}");
    for (1 .. 250) {
        my @m = SpaAuth::SmtpSink::messages("$dir/mail");
        if (@m > $before) {
            my ($t) = $m[-1] =~ m{/reset-password#token=([A-Za-z0-9_-]+)};
            return $t;
        }
        sleep 0.02;
    }
    return undef;
}
sub fail5 { my ($u) = @_; (map { answer(login($u, 'wrong password!')) } 1 .. 5)[-1] }

my @users = map { { email => "clock$_\@example.com", username => "clock$_", password => "clock password $_" } } 1 .. 4;
step 'accounts' => sub {
    is(api('/api/v1/auth/signup', $_)->{status}, 201, "sign-up $_->{username}") for @users;
};

step 'lockout: the clock goes back an hour during a lock' => sub {
    my ($u, $v) = @users[0, 1];
    is(fail5($u), '423 account_locked 60', 'five wrong passwords lock for 60 s');
    like(answer(login($u)), qr/^423 account_locked (60|59)$/, 'locked: the right password is not evaluated');
    is(fail5($v), '423 account_locked 60', 'another address locked for 60 s');
    set_clock($clock, '-3600s');
    is(login($u)->{status}, 200, 'an hour back: the lock is over, not held an hour and a minute');
    is(fail5($v), '423 account_locked 120',
       'five wrong ones for the other: locked again, for the doubled time (the count was kept)');
    like(answer(login($v)), qr/^423 account_locked 1[12]\d$/, '... a lock made on the clock as it is now holds');
};

step 'lockout: the clock goes forward an hour during a lock' => sub {
    set_clock($clock, '+0');
    is(login($users[1])->{status}, 200, 'an hour forward: past the lock\'s end, the right password signs in');
};

my ($valid, $stale);
step 'sweeping: a step back deletes nothing still valid' => sub {
    $valid = reset_link($users[2]);          # made at +0: valid until +30 min
    ok($valid, 'a reset link, valid for 30 minutes');
    set_clock($clock, '-7200s');
    # Its verification link went at +0: mail's per-recipient buckets run
    # on the monotonic clock, so two hours back its reset link still goes
    # (on the wall clock it waited an interval, 12 minutes).
    $stale = reset_link($users[3]);          # made at -2 h: expires at -1.5 h
    ok($stale, 'another, made two hours back');
    set_clock($clock, '-3600s');             # forward an hour: the second is expired, the first is not
    is(wait_swept(1), 1, 'the sweeper deletes the link that is now expired');
    is(answer(api('/api/v1/auth/password-reset/confirm', { token => $stale, password => 'a new password 3' })),
       '401 invalid_token', '... which no longer works');
    is(api('/api/v1/auth/password-reset/confirm', { token => $valid, password => 'a new password 2' })->{status}, 200,
       'the link still valid survived every sweep an hour and two back, and works');
    is(login({ %{ $users[2] }, password => 'a new password 2' })->{status}, 200, '... the new password signs in');
    is(swept_links(), 1, 'nothing else was swept');
};

step 'sweeping: a step forward deletes what is then expired' => sub {
    my $t = reset_link($users[3]);           # made at -1 h: expires at -30 min
    ok($t, 'a link made an hour back');
    set_clock($clock, '+3600s');
    is(wait_swept(2), 2, 'an hour forward (real +1 h): the sweeper deletes it');
    is(answer(api('/api/v1/auth/password-reset/confirm', { token => $t, password => 'a new password 4' })),
       '401 invalid_token', '... expired');
};

is(stop_authd('TERM'), 0, 'spa-authd stops cleanly');
stop_nginx();
kill 'KILL', $smtp_pid;
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nothing alarming in nginx');
unlike(authd_log(), qr/"level":"error"/, 'no error in spa-authd\'s log');
unlike(authd_log(), qr/mail_limited/, 'no mail was held back by a clock that went back');
done_testing();
