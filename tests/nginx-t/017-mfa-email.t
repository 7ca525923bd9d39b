# The e-mail one-time code as a second factor, for users without an
# authenticator app: codes arrive over SMTP (libcurl) at a sink on loopback.
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
               location /sensitive/ { spa_auth on; spa_auth_require_mfa on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { my ($path, $body, @headers) = @_; json_request(defined $body ? 'POST' : 'GET', $path, $body, @headers) }
sub code { error_of(@_) }
my $seen = 0;
sub next_code {  # the code in the next message to arrive
    for (1 .. 250) {
        my @m = SpaAuth::SmtpSink::messages("$dir/mail");
        if (@m > $seen) { my ($c) = $m[$seen++] =~ /Your code is (\d{6})\./; return $c }
        sleep 0.02;
    }
    return undef;
}

my %u = (email => 'nophone@example.com', username => 'nophone', password => 'no phone password');
api('/api/v1/auth/signup', \%u);
my $link = SpaAuth::SmtpSink::wait_token("$dir/mail", $u{email}, 'verify-email');
$seen = 1;  # the verification link
my $early = 'Authorization: Bearer ' . api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data}{access_token};
# Codes go to proven addresses only (require_verified_email is off here).
is(code(api('/api/v1/mfa/setup', { method => 'email' }, $early)), '403 email_not_verified',
   'no e-mail method before the address is confirmed');
is(api('/api/v1/auth/verify-email/confirm', { token => $link, password => $u{password} })->{status}, 200, 'address confirmed');
my $auth = 'Authorization: Bearer ' . api('/api/v1/auth/login', { email => $u{email}, password => $u{password} })->{json}{data}{access_token};

is(code(api('/api/v1/mfa/setup', { method => 'sms' }, $auth)), '400 validation_failed', 'unknown method: 400');
my $r = api('/api/v1/mfa/setup', { method => 'email' }, $auth);
is($r->{status}, 200, 'setup by e-mail');
is($r->{json}{data}{method}, 'email', 'method e-mail');
my $c = next_code();
like($c // '', qr/^\d{6}$/, 'a 6-digit code arrives by mail');
is(code(api('/api/v1/mfa/enable', { code => '000000' }, $auth)), '401 invalid_code', 'wrong code: 401 invalid_code');
$r = api('/api/v1/mfa/enable', { code => $c }, $auth);
is($r->{status}, 200, 'enable with the mailed code');
is(scalar @{ $r->{json}{data}{backup_codes} // [] }, 10, 'backup codes too');
is(api('/api/v1/mfa/status', undef, $auth)->{json}{data}{method}, 'email', 'status: e-mail method');

$r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
ok($r->{json}{data}{mfa_required}, 'login asks for the second factor');
is($r->{json}{data}{method}, 'email', 'by e-mail');
is($r->{json}{data}{expires_in}, 600, 'for 10 minutes');
my $token = $r->{json}{data}{mfa_token};
my $login_code = next_code();
ok($login_code, 'a code for this login arrives');
is(code(api('/api/v1/mfa/verify', { mfa_token => $token, code => $c })), '401 invalid_code', 'the setup code is no good for a login');
$r = api('/api/v1/mfa/verify', { mfa_token => $token, code => $login_code });
is($r->{status}, 200, 'verify with the mailed code');
is_deeply(decode_json(MIME::Base64::decode_base64url((split /\./, $r->{json}{data}{access_token})[1]))->{amr}, ['pwd', 'otp'], 'amr pwd, otp');
is(http_request('GET /sensitive/x', "Authorization: Bearer $r->{json}{data}{access_token}")->{status}, 200, 'step-up location accepts it');
my $mfa_auth = "Authorization: Bearer $r->{json}{data}{access_token}";

$r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
my $second = next_code();
is(code(api('/api/v1/mfa/verify', { mfa_token => $r->{json}{data}{mfa_token}, code => $login_code })), '401 invalid_code',
   'a code used once is spent (each login gets its own)');
is(api('/api/v1/mfa/verify', { mfa_token => $r->{json}{data}{mfa_token}, code => $second })->{status}, 200, 'its own code works');

# Account actions take a code mailed on request.
is(code(api('/api/v1/mfa/disable', { code => $second }, $mfa_auth)), '401 invalid_code', 'disable needs a fresh action code');
is(api('/api/v1/mfa/email-code', {}, $mfa_auth)->{status}, 200, 'ask for an action code');
my $action = next_code();
my $off = api('/api/v1/mfa/disable', { code => $action }, $mfa_auth);
is($off->{status}, 200, 'disable with it');
$mfa_auth = "Authorization: Bearer $off->{json}{data}{access_token}";  # the old token said "otp"
is(code(api('/api/v1/mfa/email-code', {}, $mfa_auth)), '400 mfa_not_enabled', 'no e-mail codes once it is off');
$r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
ok($r->{json}{data}{access_token}, 'login no longer asks');

stop_authd('TERM');
kill 'TERM', $smtp_pid;
waitpid($smtp_pid, 0);
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
ok(!grep({ index($log, $_) >= 0 } $c, $login_code, $second, $action), 'codes never reach the log');
stop_nginx();
done_testing();
