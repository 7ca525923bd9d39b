# Password reset by e-mailed link, with mail going out over SMTP (libcurl)
# to a sink on loopback: same answer for unknown e-mails, link single use,
# completing it ends every session.
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
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$dir/mail");
start_authd(mode => 'bearer', extra => qq{[smtp]\nurl = "smtp://127.0.0.1:$smtp_port"\nfrom = "no-reply\@example.com"\n});
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
               location = /metrics { proxy_pass http://unix:@DIR@/authd.sock; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { json_request(POST => @_) }
sub code { error_of(@_) }
sub wait_for_mail {
    my ($count) = @_;
    for (1 .. 250) {
        my @m = SpaAuth::SmtpSink::messages("$dir/mail");
        return @m if @m >= $count;
        sleep 0.02;
    }
    return SpaAuth::SmtpSink::messages("$dir/mail");
}
sub link_token { ($_[0] =~ m{/reset-password#token=([A-Za-z0-9_-]+)})[0] }

my %u = (email => 'reset@example.com', username => 'resetme', password => 'the old password');
api('/api/v1/auth/signup', \%u);
like((wait_for_mail(1))[0] // '', qr{/verify-email#token=}, 'sign-up mails the verification link first');
my $session = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data};

my $unknown = api('/api/v1/auth/password-reset/request', { email => 'nobody@example.com' });
my $known = api('/api/v1/auth/password-reset/request', { email => 'RESET@example.com' });
is($unknown->{status}, 202, 'unknown e-mail: 202');
is($known->{status}, 202, 'known e-mail: 202');
is_deeply($unknown->{json}{data}, $known->{json}{data}, 'the same answer either way');

my @mail = wait_for_mail(2);
is(scalar @mail, 2, 'one message sent, none for the unknown address');
shift @mail;
like($mail[0], qr/^X-Envelope: RCPT TO:<reset\@example\.com>/m, 'to the account\'s address');
like($mail[0], qr/^Subject: Reset your password\r?$/m, 'subject');
my $token = link_token($mail[0]);
like($token // '', qr/^[A-Za-z0-9_-]{43}$/, 'a 256-bit token in the link (a fragment, never sent to a server)');
like($mail[0], qr{https://app\.example\.com/reset-password#token=}, 'link to the app\'s origin');

is(code(api('/api/v1/auth/password-reset/confirm', { token => $token, password => 'short' })), '400 validation_failed',
   'weak new password: 400 (the link stays usable)');
is(code(api('/api/v1/auth/password-reset/confirm', { token => 7, password => 'x' })), '400 validation_failed', 'wrong type: 400');
is(api('/api/v1/auth/password-reset/confirm', { token => $token, password => 'a brand new password' })->{status}, 200,
   'reset with the link');
is(http_request('GET /svc/x', "Authorization: Bearer $session->{access_token}")->{status}, 401,
   'every session ended: the old access token is refused on the next request');
is(code(api('/api/v1/auth/refresh', { refresh_token => $session->{refresh_token} })), '401 invalid_token', 'and its refresh token');
is(code(api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })), '401 invalid_credentials', 'old password refused');
is(api('/api/v1/auth/login', { email => $u{email}, password => 'a brand new password' })->{status}, 200, 'new password works');
is(code(api('/api/v1/auth/password-reset/confirm', { token => $token, password => 'another new password' })), '401 invalid_token',
   'the link used twice: 401 invalid_token');
is(code(api('/api/v1/auth/password-reset/confirm', { token => 'made-up', password => 'another new password' })), '401 invalid_token',
   'a made-up link: 401');

# Two links; using the newer one voids the older.
api('/api/v1/auth/password-reset/request', { email => $u{email} }) for 1 .. 2;
@mail = wait_for_mail(4);
my ($older, $newer) = map { link_token($_) } @mail[2, 3];
is(api('/api/v1/auth/password-reset/confirm', { token => $newer, password => 'third new password' })->{status}, 200, 'newer link works');
is(code(api('/api/v1/auth/password-reset/confirm', { token => $older, password => 'fourth new password' })), '401 invalid_token',
   'older link void after a reset');

# Links to one address: 5 an hour ([smtp] recipient_limit), whoever asks.
# Four went (the verification, three resets); of three more requests one is
# mailed, two are dropped and counted; every answer is the same 202.
my @answers = map { api('/api/v1/auth/password-reset/request', { email => $u{email} }) } 1 .. 3;
is_deeply([map { $_->{status} } @answers], [202, 202, 202], 'over the recipient limit: still 202');
is_deeply($answers[2]{json}{data}, $known->{json}{data}, 'with the same message');
my $metrics = http_request('GET /metrics')->{body};
like($metrics, qr/^spa_authd_mail_total\{class="link",outcome="queued"\} 5$/m, '/metrics: five links queued');
like($metrics, qr/^spa_authd_mail_total\{class="link",outcome="recipient_limit"\} 2$/m, 'two dropped at the recipient limit');
is(scalar(wait_for_mail(5)), 5, 'five messages reached the mail server');

stop_authd('TERM');
kill 'TERM', $smtp_pid;
waitpid($smtp_pid, 0);
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
ok(index($log, $token) < 0 && index($log, $newer) < 0, 'reset tokens never reach the log');
like($log, qr/"event":"mail_sent"/, 'sending logged (without address or link)');
like($log, qr/"event":"mail_limited".*"reason":"recipient_limit"/, 'a drop is logged with its reason');
unlike($log, qr/reset\@example\.com/i, 'the address never reaches the log');
stop_nginx();
done_testing();
