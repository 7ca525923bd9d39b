# TOTP second factor end to end, with codes from oathtool (an independent
# RFC 6238 implementation): setup, enable, login gate, verify, replay,
# backup codes, step-up in the module, disable.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;

plan skip_all => 'oathtool not installed' unless -x '/usr/bin/oathtool';
SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
               location /sensitive/ { spa_auth on; spa_auth_require_mfa on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { my ($path, $body, @headers) = @_; json_request(defined $body ? 'POST' : 'GET', $path, $body, @headers) }
sub code { error_of(@_) }
sub oath {
    my ($secret, $offset) = @_;
    my $at = time + ($offset // 0);
    chomp(my $c = `oathtool --totp --base32 -N \@$at $secret`);
    return $c;
}
sub claims { decode_json(MIME::Base64::decode_base64url((split /\./, $_[0])[1])) }
sub get_status { my ($path, $token) = @_; http_request("GET $path", "Authorization: Bearer $token")->{status} }

my %u = (email => 'mfa@example.com', username => 'mfauser', password => 'mfa user password');
api('/api/v1/auth/signup', \%u);
my $login = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
my $auth = "Authorization: Bearer $login->{json}{data}{access_token}";
is(api('/api/v1/mfa/status', undef, $auth)->{json}{data}{enabled}, JSON::PP::false, 'status: off');
is(get_status('/sensitive/x', $login->{json}{data}{access_token}), 401, 'step-up location refuses a password-only token: 401 (RFC 9470)');
my $r = http_request('GET /sensitive/x', "Authorization: Bearer $login->{json}{data}{access_token}");
is($r->{headers}{'www-authenticate'}[0],
   'Bearer realm="spa", error="insufficient_user_authentication", error_description="a second authentication factor is required"',
   'with the RFC 9470 challenge');

my ($at, $next, $bauth, $bsecret, $old_codes, $b, $secret, @backup);
step 'setup and enable' => sub {
    $r = api('/api/v1/mfa/setup', {}, $auth);
    is($r->{status}, 200, 'setup');
    $secret = $r->{json}{data}{secret};
    like($secret, qr/^[A-Z2-7]{32}$/, 'base32 secret (160 bits)');
    like($r->{json}{data}{otpauth_uri}, qr{^otpauth://totp/spa-auth:mfa\@example\.com\?secret=$secret&issuer=spa-auth&algorithm=SHA1&digits=6&period=30$},
         'otpauth URI with issuer and account');
    like($r->{json}{data}{qr_svg}, qr{^<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \d+ \d+".*</svg>$}s, 'QR code as SVG');
    is(api('/api/v1/mfa/status', undef, $auth)->{json}{data}{enabled}, JSON::PP::false, 'still off until enabled');
    is(code(api('/api/v1/mfa/enable', { code => '000000' }, $auth)), '401 invalid_code', 'enable with a wrong code: 401 invalid_code');
    is(code(api('/api/v1/mfa/enable', { code => 123456 }, $auth)), '400 validation_failed', 'code of the wrong type: 400');
    $r = api('/api/v1/mfa/enable', { code => oath($secret) }, $auth);
    is($r->{status}, 200, 'enable with the oathtool code');
    @backup = @{ $r->{json}{data}{backup_codes} };
    is(scalar @backup, 10, 'ten backup codes, shown once');
    like($backup[0], qr/^[a-z2-9]{4}-[a-z2-9]{4}$/, 'readable backup code');
    is_deeply(api('/api/v1/mfa/status', undef, $auth)->{json}{data}, { enabled => JSON::PP::true, method => 'totp', backup_codes_remaining => 10 }, 'status: on, totp, 10 codes');
    is(code(api('/api/v1/mfa/setup', {}, $auth)), '409 mfa_already_enabled', 'setup again: 409');
};

step 'login through the gate' => sub {
    $r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
    is($r->{status}, 200, 'login with the password');
    ok($r->{json}{data}{mfa_required}, 'answers mfa_required');
    ok(!exists $r->{json}{data}{access_token}, 'and no tokens yet');
    my $mfa_token = $r->{json}{data}{mfa_token};
    is(code(api('/api/v1/mfa/verify', { mfa_token => $mfa_token, code => '000000' })), '401 invalid_code', 'wrong code: 401 invalid_code');
    $next = oath($secret, 30);  # next step: the enabling code is spent
    $r = api('/api/v1/mfa/verify', { mfa_token => $mfa_token, code => $next });
    is($r->{status}, 200, 'verify with the next code from oathtool');
    $at = $r->{json}{data}{access_token};
    is_deeply(claims($at)->{amr}, ['pwd', 'otp'], 'amr pwd, otp');
    is(claims($at)->{mfa}, JSON::PP::true, 'mfa: true');
    is(get_status('/sensitive/x', $at), 200, 'step-up location accepts it');
    is(code(api('/api/v1/mfa/verify', { mfa_token => $mfa_token, code => oath($secret, 60) })), '401 invalid_token', 'mfa_token reused: 401 invalid_token');

    $r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
    is(code(api('/api/v1/mfa/verify', { mfa_token => $r->{json}{data}{mfa_token}, code => $next })), '401 invalid_code',
       'replayed code: 401 invalid_code');
    is(code(api('/api/v1/mfa/verify', { mfa_token => 'made-up', code => $next })), '401 invalid_token', 'unknown mfa_token: 401');

    my $rt = api('/api/v1/auth/refresh', { refresh_token => $login->{json}{data}{refresh_token} });
    is(get_status('/sensitive/x', $rt->{json}{data}{access_token}), 401, 'a password-only session stays password-only after refresh');
};

step 'backup codes' => sub {
    $r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
    $r = api('/api/v1/mfa/verify-backup', { mfa_token => $r->{json}{data}{mfa_token}, code => $backup[0] });
    is($r->{status}, 200, 'backup code completes a login');
    is($r->{json}{data}{backup_codes_remaining}, 9, 'nine left');
    is(get_status('/sensitive/x', $r->{json}{data}{access_token}), 200, 'and counts as a second factor');
    $r = api('/api/v1/auth/login', { email => $u{email}, password => $u{password} });
    is(code(api('/api/v1/mfa/verify-backup', { mfa_token => $r->{json}{data}{mfa_token}, code => $backup[0] })), '401 invalid_code',
       'a backup code used twice: 401 invalid_code');
};

step 'new backup codes and disabling, on fresh users: a code step can be used' => sub {
    # once, and only the current step and its neighbours are valid.
    sub mfa_user {
        my ($name) = @_;
        my %v = (email => "$name\@example.com", username => $name, password => "$name password 1");
        api('/api/v1/auth/signup', \%v);
        my $auth = 'Authorization: Bearer ' . api('/api/v1/auth/login', { email => $v{email}, password => $v{password} })->{json}{data}{access_token};
        my $s = api('/api/v1/mfa/setup', {}, $auth)->{json}{data}{secret};
        my $codes = api('/api/v1/mfa/enable', { code => oath($s) }, $auth)->{json}{data}{backup_codes};
        return ($auth, $s, $codes, \%v);
    }

    my $mfa_auth = "Authorization: Bearer $at";
    is(code(api('/api/v1/mfa/disable', { code => $next }, $mfa_auth)), '401 invalid_code', 'disable with a spent code: 401');
    is(code(api('/api/v1/mfa/backup-codes', { code => '000000' }, $mfa_auth)), '401 invalid_code', 'new backup codes need a valid code');

    ($bauth, $bsecret, $old_codes, $b) = mfa_user('backupuser');
    $r = api('/api/v1/mfa/backup-codes', { code => oath($bsecret, 30) }, $bauth);
    is(scalar @{ $r->{json}{data}{backup_codes} // [] }, 10, 'ten fresh backup codes') or diag($r->{body});
    my $fresh = $r->{json}{data}{backup_codes}[0];
    $r = api('/api/v1/auth/login', { email => $b->{email}, password => $b->{password} });
    is(code(api('/api/v1/mfa/verify-backup', { mfa_token => $r->{json}{data}{mfa_token}, code => $old_codes->[0] })), '401 invalid_code',
       'old backup codes are void');
    is(api('/api/v1/mfa/verify-backup', { mfa_token => $r->{json}{data}{mfa_token}, code => $fresh })->{status}, 200, 'new ones work');

    my ($vauth, $vsecret, undef, $v) = mfa_user('onoff');
    is(code(api('/api/v1/mfa/disable', { code => '000000' }, $vauth)), '401 invalid_code', 'disable with a wrong code: 401');
    my $off = api('/api/v1/mfa/disable', { code => oath($vsecret, 30) }, $vauth);
    is($off->{status}, 200, 'disable with a fresh code');
    # The token said "otp": it stops passing; the answer carries a new session's pair that does not.
    is(code(api('/api/v1/mfa/status', undef, $vauth)), '401 invalid_token', 'the old token, which claimed a second factor, is refused');
    ok(!claims($off->{json}{data}{access_token})->{mfa}, 'the new token claims no second factor');
    $vauth = "Authorization: Bearer $off->{json}{data}{access_token}";
    is(api('/api/v1/mfa/status', undef, $vauth)->{json}{data}{enabled}, JSON::PP::false, 'status: off');
    $r = api('/api/v1/auth/login', { email => $v->{email}, password => $v->{password} });
    ok($r->{json}{data}{access_token} && !$r->{json}{data}{mfa_required}, 'login no longer asks for a code');
    is(code(api('/api/v1/mfa/disable', { code => oath($vsecret, 30) }, $vauth)), '400 mfa_not_enabled', 'disable when off: 400');
};

step 'wrong codes lock the account like wrong passwords' => sub {
    my (undef, $lsecret, undef, $l) = mfa_user('lockme');
    $r = api('/api/v1/auth/login', { email => $l->{email}, password => $l->{password} });
    my @statuses = map { api('/api/v1/mfa/verify', { mfa_token => $r->{json}{data}{mfa_token}, code => '000000' })->{status} } 1 .. 5;
    is("@statuses", '401 401 401 401 423', 'five wrong codes lock the account');
    is(code(api('/api/v1/auth/login', { email => $l->{email}, password => $l->{password} })), '423 account_locked', 'password login locked too');

    stop_authd('TERM');
    my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
    unlike($log, qr/$secret/, 'the TOTP secret never reaches the log');
    ok(!grep({ index($log, $_) >= 0 } @backup, @$old_codes), 'nor a backup code');
};

stop_nginx();
done_testing();
