# A mail server that fails (docs/authd.md "Password reset and mail"):
# one that takes the connection and never speaks, one that is not there
# (connection refused), one that says 421 or 451 (try again later), and
# one that refuses for good (550 at MAIL FROM, 550 at RCPT TO).
# What it proves:
# - Password reset and sign-up (whose verification link is mailed) answer
#   as always while the server hangs: the answers arrive while the server
#   still holds spa-authd's connection unanswered, by the server's own
#   record, not by a stopwatch.
# - A transient failure (no connection, no answer within [smtp] timeout,
#   a 4xx) is logged (mail_failed, transient) and retried; once the server
#   is back the message arrives, once. A 5xx is logged and not retried.
# - The log has neither the link's token nor the address; /metrics counts
#   what became of each attempt (spa_authd_mail_delivery_total).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::SmtpSink;
use SpaAuth::SmtpFaults;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $smtp = SpaAuth::SmtpFaults->start("$dir/mail");
start_authd(mode => 'bearer', extra => <<"TOML");
[smtp]
url = "smtp://127.0.0.1:$smtp->{port}"
from = "no-reply\@example.com"
timeout = "15s"
retry_for = "60s"
TOML
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location = /metrics { proxy_pass http://unix:@DIR@/authd.sock; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub api { json_request(POST => @_) }
sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; scalar <$fh> }
sub log_events {
    my ($event) = @_;
    grep { ($_->{event} // '') eq $event } map { eval { decode_json($_) } // () } split /\n/, authd_log();
}
sub wait_log {
    my ($event, $count) = @_;
    for (1 .. 500) { my @e = log_events($event); return @e if @e >= $count; sleep 0.02 }
    return log_events($event);
}
# Messages the server accepted for ADDRESS, with the link path in each.
sub mail_to {
    my ($address) = @_;
    return map { m{/(reset-password|verify-email)#token=} ? $1 : 'other' }
           grep { /^X-Envelope: RCPT TO:<\Q$address\E>/mi } SpaAuth::SmtpSink::messages("$dir/mail");
}
sub wait_mail {
    my ($address, $count) = @_;
    for (1 .. 500) { my @m = mail_to($address); return @m if @m >= $count; sleep 0.02 }
    return mail_to($address);
}
sub count { my ($re) = @_; scalar grep { /$re/ } $smtp->events }
sub metric {
    my ($class, $result) = @_;
    my ($v) = http_request('GET /metrics')->{body} =~ /^spa_authd_mail_delivery_total\{class="$class",result="$result"\} (\d+)$/m;
    return $v // 'absent';
}
sub reset_request { api('/api/v1/auth/password-reset/request', { email => $_[0] })->{status} }

my @u = map { { email => "mail$_\@example.com", username => "mail$_", password => "mail password $_" } } 0 .. 5;
step 'a working server first' => sub {
    is(api('/api/v1/auth/signup', $u[$_])->{status}, 201, "sign-up $u[$_]{username}") for 0, 2, 3, 4;
    is_deeply([wait_mail($u[$_]{email}, 1)], ['verify-email'], "$u[$_]{username}: the verification link") for 0, 2, 3, 4;
};

step 'a server that takes the connection and never speaks' => sub {
    $smtp->mode('hang');
    is(reset_request($u[0]{email}), 202, 'reset requested: 202');
    ok($smtp->wait_event(qr/^hang held$/), 'the server holds spa-authd\'s connection, saying nothing');
    is(api('/api/v1/auth/signup', $u[1])->{status}, 201, 'meanwhile a sign-up (its link queued) answers 201');
    is(reset_request($u[0]{email}), 202, '... and a second reset request 202');
    is(count(qr/^hang closed$/), 0, '... both while the server still held the connection unanswered');
    is_deeply([mail_to($u[0]{email})], ['verify-email'], '... and before any of that mail went');
    $smtp->mode('ok');
    # spa-authd gives up at [smtp] timeout (15 s: far more than the
    # answers above take, so they came while the connection was held).
    for (1 .. 1000) { last if count(qr/^hang closed$/); sleep 0.02 }
    is(count(qr/^hang closed$/), 1, 'spa-authd gives up on the silent connection ([smtp] timeout)');
    is_deeply([wait_mail($u[0]{email}, 3)], [qw(verify-email reset-password reset-password)],
              'once the server answers: both reset links arrive (the held one retried)');
    is_deeply([wait_mail($u[1]{email}, 1)], ['verify-email'], '... and the sign-up\'s link');
    my ($failed) = log_events('mail_failed');
    is($failed->{transient}, 'yes', 'mail_failed logged, transient');
    like($failed->{reason}, qr/Timeout/i, '... saying the server did not answer in time');
    ok(scalar(log_events('mail_retry')) >= 1, '... and a retry logged');
};

step 'no server at all (connection refused), then back' => sub {
    $smtp->stop;
    is(reset_request($u[2]{email}), 202, 'reset requested with nothing listening: 202');
    my @f = wait_log('mail_failed', 2);
    like($f[-1]{reason} // '', qr/connect/i, 'mail_failed: could not connect');
    is($f[-1]{transient}, 'yes', '... transient');
    $smtp = SpaAuth::SmtpFaults->start("$dir/mail", $smtp->{port});
    is_deeply([wait_mail($u[2]{email}, 2)], [qw(verify-email reset-password)], 'the server back: the link arrives');
};

step 'try again later: 421 at the greeting, 451 at MAIL FROM' => sub {
    for my $fault (qw(421 451mail)) {
        my $before = () = mail_to($u[3]{email});
        $smtp->mode($fault);
        is(reset_request($u[3]{email}), 202, "$fault: reset requested, 202");
        ok($smtp->wait_event(qr/^$fault refused/), "$fault: the server refused the attempt");
        $smtp->mode('ok');
        is(scalar(my @m = wait_mail($u[3]{email}, $before + 1)), $before + 1, "$fault: retried, the link arrives");
    }
    is(scalar(mail_to($u[3]{email})), 3, 'each once (with the verification link)');
};

step 'refused for good: 550 at MAIL FROM, 550 at RCPT TO' => sub {
    my $failed_before = metric('link', 'failed');
    for my $fault (qw(550mail 550rcpt)) {
        $smtp->mode($fault);
        is(reset_request($u[4]{email}), 202, "$fault: reset requested, 202");
        ok($smtp->wait_event(qr/^$fault refused/), "$fault: the server refused");
        my @f;
        for (1 .. 500) { @f = grep { ($_->{transient} // '') eq 'no' } log_events('mail_failed'); last if @f >= ($fault eq '550mail' ? 1 : 2); sleep 0.02 }
        is($f[-1]{smtp_code}, '550', "$fault: mail_failed with the server's 550, not transient");
    }
    $smtp->mode('ok');
    # A later message goes through; the refused ones were not tried again.
    is(reset_request($u[5]{email}), 202, 'another reset (an unknown address: nothing is mailed)');
    is(api('/api/v1/auth/signup', $u[5])->{status}, 201, 'a sign-up whose link goes to a working server');
    is_deeply([wait_mail($u[5]{email}, 1)], ['verify-email'], '... arrives');
    is(count(qr/^550mail refused/) . ' ' . count(qr/^550rcpt refused/), '1 1', 'each refused message was tried once');
    is_deeply([mail_to($u[4]{email})], ['verify-email'], 'no reset link reached mail4');
    is(metric('link', 'failed'), $failed_before + 2, 'metrics count both as failed');
};

step 'the log holds no link, token or address; metrics add up' => sub {
    my $log = authd_log();
    unlike($log, qr/#token=|reset-password|verify-email\#/, 'no link in the log');
    unlike($log, qr/mail\d\@example\.com/, 'no address in the log');
    ok(metric('link', 'retried') >= 4, 'retried attempts counted (' . metric('link', 'retried') . ')');
    ok(metric('link', 'sent') >= 9, 'sent ones counted (' . metric('link', 'sent') . ')');
};

is(stop_authd('TERM'), 0, 'spa-authd stops cleanly');
stop_nginx();
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nothing alarming in nginx');
done_testing();
