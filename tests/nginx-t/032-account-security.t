# The account rules through nginx and a real spa-authd with mail to an SMTP
# sink: e-mail verification before login, no account oracle in sign-up or
# lockout, recent authentication for account changes (spa-authd's clock
# moved ahead with Debian's faketime), re-authentication, password change
# and role changes reaching the module at once.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::SmtpSink;
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$dir/mail");
END { kill 'TERM', $smtp_pid if $smtp_pid }
my $smtp = qq{[smtp]\nurl = "smtp://127.0.0.1:$smtp_port"\nfrom = "no-reply\@example.com"\n};
# admin_mfa => 0: the administrator here has no second factor (011 has one).
start_authd(mode => 'both', verified_email => 1, admin_mfa => 0, extra => $smtp);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }
               location /admin/ { spa_auth on; spa_auth_require role admin; proxy_pass http://127.0.0.1:@ECHO_PORT@;
                                  add_header X-Result $spa_auth_result always; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { my ($path, $body, @h) = @_; json_request(defined $body ? 'POST' : 'GET', $path, $body, @h) }
sub code { error_of(@_) }
sub bearer { "Authorization: Bearer $_[0]" }
sub svc { my ($path, $at) = @_; my $r = http_request("GET $path", bearer($at)); "$r->{status} " . ($r->{headers}{'x-result'}[0] // '') }
sub claims { decode_json(decode_base64url((split /\./, $_[0])[1])) }
sub mails_to {
    my ($address) = @_;
    grep { /^X-Envelope: RCPT TO:<\Q$address\E>/mi } SpaAuth::SmtpSink::messages("$dir/mail");
}
sub wait_mails {
    my ($address, $count) = @_;
    for (1 .. 250) { my @m = mails_to($address); return @m if @m >= $count; sleep 0.02 }
    return mails_to($address);
}

my ($link, $vera, %v);
step 'e-mail verification' => sub {
    %v = (email => 'vera@example.com', username => 'vera', password => 'vera long password');
    my $signup = api('/api/v1/auth/signup', \%v);
    is($signup->{status}, 201, 'sign-up: 201');
    ok(!$signup->{json}{data}{user}{email_verified}, 'not verified yet');
    $link = SpaAuth::SmtpSink::wait_token("$dir/mail", $v{email}, 'verify-email');
    like($link // '', qr/^[A-Za-z0-9_-]{43}$/, 'a 256-bit verification link arrives (in the fragment)');
    is(code(api('/api/v1/auth/login', { email => $v{email}, password => $v{password} })), '403 email_not_verified',
       'login before verifying: 403 email_not_verified');
    is(code(api('/api/v1/auth/login', { email => $v{email}, password => 'not her password' })), '401 invalid_credentials',
       'a wrong password is only wrong');
    my $again_unknown = api('/api/v1/auth/verify-email/request', { email => 'ghost@example.com' });
    my $again_known = api('/api/v1/auth/verify-email/request', { email => $v{email} });
    is($again_known->{status}, 202, 'resend: 202');
    is("$again_unknown->{status} " . encode_json($again_unknown->{json}{data}), "$again_known->{status} " . encode_json($again_known->{json}{data}),
       'resend answers alike for an unknown address');
    is(scalar(wait_mails($v{email}, 2)), 2, 'a second link for vera');
    is(code(api('/api/v1/auth/verify-email/confirm', { token => 'made-up' })), '401 invalid_token', 'a made-up link: 401');
    my $newest = SpaAuth::SmtpSink::wait_token("$dir/mail", $v{email}, 'verify-email');
    is(code(api('/api/v1/auth/verify-email/confirm', { token => $newest })), '401 invalid_credentials',
       'the link alone does not confirm: the sign-up\'s password goes with it');
    my $confirmed = api('/api/v1/auth/verify-email/confirm', { token => $newest, password => $v{password} });
    is($confirmed->{status}, 200, 'confirm: 200');
    is(code(api('/api/v1/auth/verify-email/confirm', { token => $link, password => $v{password} })), '401 invalid_token',
       'the other link died with it');
    my $login = api('/api/v1/auth/login', { email => $v{email}, password => $v{password} });
    is($login->{status}, 200, 'login once verified');
    $vera = $login->{json}{data};
    is(claims($vera->{access_token})->{email_verified}, JSON::PP::true, 'email_verified in the access token');
    is(svc('/svc/x', $vera->{access_token}), '200 ok', 'the token passes the module');
};

step 'no account oracle: sign-up with a taken address, lockout' => sub {
    my $fresh = api('/api/v1/auth/signup', { email => 'someone@example.com', username => 'someone', password => 'someone long pw 1' });
    my $taken = api('/api/v1/auth/signup', { email => 'VERA@example.com', username => 'intruder', password => 'intruder long pw 1' });
    is($taken->{status}, $fresh->{status}, 'taken address: the status of a new sign-up');
    is_deeply([sort keys %{ $taken->{json}{data}{user} }], [sort keys %{ $fresh->{json}{data}{user} }], 'the same fields');
    my @vera_mail = wait_mails($v{email}, 3);
    like($vera_mail[-1] // '', qr/already has one/, 'vera is told someone tried');
    unlike($vera_mail[-1] // '', qr/#token=/, 'with no link in it');

    sub wrong_logins {
        my ($email) = @_;
        map { api('/api/v1/auth/login', { email => $email, password => 'wrong password!' }) } 1 .. 6;
    }
    sub shape {
        my ($r) = @_;
        join ' ', $r->{status}, $r->{json}{error}{code} // '', $r->{json}{error}{message} // '',
            (defined $r->{headers}{'retry-after'} ? 'retry-after' : 'no-retry-after'),
            map { "$_=" . join(',', @{ $r->{headers}{$_} // [] }) } qw(www-authenticate content-type);
    }
    my @known = wrong_logins('someone@example.com');
    my @unknown = wrong_logins('nobody-here@example.com');
    is($known[4]{status}, 423, 'the fifth wrong password locks');
    is_deeply([map { shape($_) } @unknown], [map { shape($_) } @known], 'an unknown address answers every attempt alike, lockout included');
    # The locking answer names the whole lock; later ones what is left of it
    # (which may be a second less when the run crosses a second).
    is("$known[4]{headers}{'retry-after'}[0] $unknown[4]{headers}{'retry-after'}[0]", '60 60', 'both locks last 60 s');
};

step 'recent authentication: spa-authd\'s clock 11 minutes ahead' => sub {
    my $secret_before = api('/api/v1/mfa/setup', {}, bearer($vera->{access_token}));
    is($secret_before->{status}, 200, 'MFA setup right after login');
    stop_authd('TERM');
    start_authd(mode => 'both', verified_email => 1, admin_mfa => 0, extra => $smtp, faketime => '+660s');
    my $stale = api('/api/v1/mfa/setup', {}, bearer($vera->{access_token}));
    is(code($stale), '401 reauthentication_required', '11 minutes later: reauthentication_required');
    is($stale->{json}{error}{max_age}, 600, 'with max_age in the envelope');
    like($stale->{headers}{'www-authenticate'}[0] // '', qr/error="insufficient_user_authentication".*max_age=600/,
         'and an RFC 9470 challenge');
    is(code(api('/api/v1/auth/password', { password => 'vera newer password' }, bearer($vera->{access_token}))),
       '401 reauthentication_required', 'password change: the same');
    is(code(api('/api/v1/auth/reauthenticate', { password => 'not it' }, bearer($vera->{access_token}))), '401 invalid_credentials',
       'reauthenticate with a wrong password: 401');
    my $re = api('/api/v1/auth/reauthenticate', { password => $v{password} }, bearer($vera->{access_token}));
    is($re->{status}, 200, 'reauthenticate with the password');
    ok($re->{json}{data}{access_token} && $re->{json}{data}{refresh_token}, 'a new pair');
    isnt(claims($re->{json}{data}{access_token})->{sid}, claims($vera->{access_token})->{sid}, 'in a new session that replaces the old one');
    is(code(api('/api/v1/auth/refresh', { refresh_token => $vera->{refresh_token} })), '401 invalid_token',
       'the old session\'s refresh token is dead: a copy of it gains nothing');
    is(api('/api/v1/mfa/setup', {}, bearer($re->{json}{data}{access_token}))->{status}, 200, 'then MFA setup works');
    is(code(api('/api/v1/mfa/setup', {}, bearer($vera->{access_token}))), '401 invalid_token',
       'the old session\'s access token is refused');
    stop_authd('TERM');
    start_authd(mode => 'both', verified_email => 1, admin_mfa => 0, extra => $smtp);
};

step 'password change: other sessions and older tokens stop at the module' => sub {
    my $other = api('/api/v1/auth/login', { email => $v{email}, password => $v{password} })->{json}{data};
    my $current = api('/api/v1/auth/login', { email => $v{email}, password => $v{password} })->{json}{data};
    my $changed = api('/api/v1/auth/password', { password => 'vera newer password' }, bearer($current->{access_token}));
    is($changed->{status}, 200, 'password change: 200');
    is(svc('/svc/x', $other->{access_token}), '401 revoked', 'another session: refused on the next request');
    is(svc('/svc/x', $current->{access_token}), '401 revoked', 'this session\'s older token too');
    is(svc('/svc/x', $changed->{json}{data}{access_token}), '200 ok', 'the new token passes');
    is(code(api('/api/v1/auth/refresh', { refresh_token => $current->{refresh_token} })), '401 invalid_token',
       'this session\'s refresh token too (it may have been copied)');
    is(api('/api/v1/auth/refresh', { refresh_token => $changed->{json}{data}{refresh_token} })->{status}, 200,
       'the caller goes on with the new pair');
};

step 'role change: the old role stops at the module at once' => sub {
    my $cli = `@{[ build_dir() ]}/spa-authd users set-role vera\@example.com admin --config $dir/authd.toml 2>&1`;
    is($? >> 8, 0, 'vera made admin') or diag($cli);
    my $admin = api('/api/v1/auth/login', { email => $v{email}, password => 'vera newer password' })->{json}{data};
    is(svc('/admin/x', $admin->{access_token}), '200 ok', 'an admin token passes spa_auth_require role admin');
    my $user_id = claims($vera->{access_token})->{sub};
    my $demote = json_request(PATCH => "/api/v1/admin/users/$user_id", { role => 'user' }, bearer($admin->{access_token}));
    is($demote->{status}, 400, 'an admin cannot demote themselves');
    stop_authd('TERM');
    system("@{[ build_dir() ]}/spa-authd users set-role vera\@example.com user --config $dir/authd.toml >/dev/null 2>&1");
    start_authd(mode => 'both', verified_email => 1, admin_mfa => 0, extra => $smtp);
    is(svc('/admin/x', $admin->{access_token}), '401 revoked', 'demoted: the admin token is refused on the next request');
    my $down = api('/api/v1/auth/refresh', { refresh_token => $admin->{refresh_token} })->{json}{data};
    is(claims($down->{access_token})->{role}, 'user', 'the next refresh says role user');
    is(svc('/admin/x', $down->{access_token}), '403 forbidden', 'and gets 403 at the admin location');
    is(svc('/svc/x', $down->{access_token}), '200 ok', 'but passes elsewhere');

    stop_authd('TERM');
    my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
    ok(index($log, $link) < 0, 'verification links never reach the log');
};

stop_nginx();
unlike(error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'nginx error log clean');
done_testing();
