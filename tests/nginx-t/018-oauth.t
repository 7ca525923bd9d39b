# OpenID Connect login against a real provider (oidc-provider from npm, PKCE
# required), driven like a browser over HTTPS through the shipped nginx.conf:
# success, replayed and tampered callbacks, the provider's refusal, the
# provider down, a rotated signing key, a user with 2FA, linking and
# unlinking, and no open redirect.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use SpaAuth::OidcProvider;
use SpaAuth::SmtpSink;
use File::Temp qw(tempdir);
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Test::More;

my $port = SpaAuth::Test::free_port();
my $secrets = tempdir('spa-oauth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
SpaAuth::Test::write_file("$secrets/client-secret", "provider secret 1\n");
chmod 0600, "$secrets/client-secret" or die;  # spa-authd reads no secret its group may read
my $op = SpaAuth::OidcProvider->start(client_id => 'spa-test', client_secret => 'provider secret 1',
                                      redirect_uri => "https://localhost:$port/api/v1/oauth/test/callback");
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$secrets/mail");
END { kill 'TERM', $smtp_pid if $smtp_pid }
my $s = SpaAuth::Shipped::start(
    port => $port,
    smtp_port => $smtp_port,
    authd_toml => <<"TOML");
[oauth.test]
client_id = "spa-test"
client_secret_file = "$secrets/client-secret"
redirect_uri = "https://localhost:$port/api/v1/oauth/test/callback"
discovery = "$op->{issuer}/.well-known/openid-configuration"
TOML
ok($s->{authd_ok}, 'authd.toml with [oauth.test] passes --check-config') or diag($s->log_text('check.log'));
ok($s->{nginx_ok}, 'nginx starts') or BAIL_OUT($s->{nginx_t});
my $base = $s->{base};

sub claims_of { decode_json(decode_base64url((split /\./, $_[0])[1])) }
sub start_url { "$base/api/v1/oauth/test/start" . (defined $_[0] ? "?redirect_to=$_[0]" : '') }
# A whole login: /start, the provider's form, then our callback.
sub oauth_login {
    my ($login, %o) = @_;
    my $start = $s->browse(GET => start_url($o{redirect_to}), %o);
    my $callback = $op->sign_in($s, $start->{headers}{location}[0], login => $login, %o);
    return ($s->browse(GET => $callback, %o), $callback, $start);
}

my ($at, $r, $callback, $start, $cb);
step 'the providers a login page offers: names and /start paths, no secret' => sub {
    my $r = $s->browse(GET => "$base/api/v1/oauth/providers");
    is($r->{status}, 200, 'public: no session needed');
    is_deeply($r->{json}{data}{providers}, [{ name => 'test', login => '/api/v1/oauth/test/start' }], 'the one configured provider');
    unlike($r->{body}, qr/provider secret|spa-test|client/, 'neither client id nor secret');
};

step 'success: an account is made, the session starts, cookies are set' => sub {
    ($r, $callback, $start) = oauth_login('alice', redirect_to => '/app%3Ftab%3D2');
    is($start->{status}, 303, '/start redirects to the provider');
    my $to_provider = $start->{headers}{location}[0];
    like($to_provider, qr{^\Q$op->{issuer}\E/auth\?}, 'to its authorization endpoint (from discovery)');
    like($to_provider, qr/[?&]code_challenge_method=S256(&|$)/, 'PKCE S256');
    like($to_provider, qr/[?&]state=[A-Za-z0-9_-]{43}(&|$)/, 'a 256-bit state');
    like($to_provider, qr/[?&]nonce=[A-Za-z0-9_-]{43}(&|$)/, 'a nonce');
    unlike($to_provider, qr/secret/, 'no client secret in the browser');
    my ($binding) = grep { /^__Secure-spa_oauth=/ } @{ $start->{headers}{'set-cookie'} };
    like($binding // '', qr/^__Secure-spa_oauth=[A-Za-z0-9_-]{43}; Path=\/api\/v1\/oauth; Secure; HttpOnly; SameSite=Lax; Max-Age=600$/,
         'binding cookie: HttpOnly, Secure, SameSite=Lax (the callback is a cross-site navigation)');
    like($callback // '', qr{^\Q$base\E/api/v1/oauth/test/callback\?code=[^&]+&state=[^&]+&iss=}, 'the provider sends the browser back with a code');

    is($r->{status}, 303, 'callback: 303');
    is($r->{headers}{location}[0], '/app?tab=2', 'to redirect_to');
    $at = $s->cookie('__Host-spa_at');
    ok($at, 'session cookies set');
    is_deeply(claims_of($at)->{amr}, ['oauth'], 'amr ["oauth"]');
    is(claims_of($at)->{email}, 'alice@example.com', 'e-mail from the userinfo endpoint (not in the ID token)');
    ok(grep({ /^__Secure-spa_oauth=; Path=\/api\/v1\/oauth; .*Max-Age=0$/ } @{ $r->{headers}{'set-cookie'} }), 'binding cookie cleared');
    my $me = $s->api(GET => '/api/v1/auth/me');
    is($me->{status}, 200, '/me with the new session');
    is_deeply($me->{json}{data}{user}{providers}, ['test'], 'the account lists the provider');
    ok(!$me->{json}{data}{user}{has_password}, 'and has no password');
    my $demo = $s->browse(GET => "$base/api/v1/demo/hello");
    like($demo->{body}, qr/"X-User-Email": "alice\@example.com"/, 'the demo service sees the OAuth user');
    my $alice_id = $me->{json}{data}{user}{id};
};

step 'the same callback again: the state is spent' => sub {
    my $again = $s->browse(GET => $callback);
    is($again->{status}, 303, 'replayed callback: a redirect, not an error page');
    is($again->{headers}{location}[0], '/login?error=invalid_state', 'to the login page with invalid_state');
    ok(!grep({ /^__Host-spa_at=[^;]/ } @{ $again->{headers}{'set-cookie'} // [] }), 'and no session');
};

step 'a tampered state, and a callback in another browser' => sub {
    $start = $s->browse(GET => start_url());
    $cb = $op->sign_in($s, $start->{headers}{location}[0], login => 'alice');
    (my $tampered = $cb) =~ s/state=([A-Za-z0-9_-])/'state=' . ($1 eq 'A' ? 'B' : 'A')/e;
    is($s->browse(GET => $tampered)->{headers}{location}[0], '/login?error=invalid_state', 'tampered state: invalid_state');
    $start = $s->browse(GET => start_url());
    $cb = $op->sign_in($s, $start->{headers}{location}[0], login => 'alice');
    is($s->browse(GET => $cb, jar => "$s->{state}/other-browser.txt")->{headers}{location}[0], '/login?error=invalid_state',
       'callback in a browser that did not start the login: invalid_state');
    is($s->browse(GET => $cb)->{headers}{location}[0], '/login?error=invalid_state', 'which also spent the state');
};

step 'the provider says no' => sub {
    $start = $s->browse(GET => start_url());
    $cb = $op->sign_in($s, $start->{headers}{location}[0], abort => 1);
    like($cb // '', qr/[?&]error=access_denied/, 'the provider answers error=access_denied');
    is($s->browse(GET => $cb)->{headers}{location}[0], '/login?error=access_denied', 'we send the browser to the login page with it');
};

step 'never an open redirect' => sub {
    for my $target ('//evil.example/', 'https://evil.example/', '/%5Cevil.example', 'javascript:alert(1)') {
        my $bad = $s->browse(GET => start_url($target));
        is("$bad->{status} " . ($bad->{json}{error}{code} // ''), '400 invalid_redirect', "redirect_to=$target refused");
    }
    is($s->browse(GET => "$base/api/v1/oauth/nope/start")->{status}, 404, 'unknown provider: 404');
};

step 'a user with 2FA goes through the same gate as a password login' => sub {
    my $mfa = { email => 'carol@example.com', username => 'carol', password => 'carol password 1' };
    is($s->api(POST => '/api/v1/auth/signup', $mfa, jar => "$s->{state}/carol.txt")->{status}, 201, 'carol signs up with a password');
    my $verify = SpaAuth::SmtpSink::wait_token("$secrets/mail", 'carol@example.com', 'verify-email');
    is($s->api(POST => '/api/v1/auth/verify-email/confirm', { token => $verify, password => $mfa->{password} })->{status}, 200,
       'and confirms her address (the link and her password)');
    $s->api(POST => '/api/v1/auth/login', { email => $mfa->{email}, password => $mfa->{password} }, jar => "$s->{state}/carol.txt");
    my $setup = $s->api(POST => '/api/v1/mfa/setup', undef, jar => "$s->{state}/carol.txt");
    my $secret = $setup->{json}{data}{secret};
    chomp(my $code = `oathtool --totp --base32 $secret`);
    is($s->api(POST => '/api/v1/mfa/enable', { code => $code }, jar => "$s->{state}/carol.txt")->{status}, 200, 'carol enables TOTP');
    my $carol_jar = "$s->{state}/carol-oauth.txt";
    ($r) = oauth_login('carol', jar => $carol_jar);
    my $loc = $r->{headers}{location}[0] // '';
    like($loc, qr{^/login#mfa_token=[A-Za-z0-9_-]{43}&method=totp&redirect_to=%2F$}, 'verified e-mail links carol; the login waits for her code, and says where to go after');
    ok(!$s->cookie('__Host-spa_at', $carol_jar), 'no session before the second factor');
    my ($mfa_token) = $loc =~ /mfa_token=([^&]+)/;
    chomp($code = `oathtool --totp --base32 -N \@@{[ time + 30 ]} $secret`);
    my $v = $s->api(POST => '/api/v1/mfa/verify', { mfa_token => $mfa_token, code => $code }, jar => $carol_jar);
    is($v->{status}, 200, 'POST /api/v1/mfa/verify with the next code');
    is_deeply(claims_of($s->cookie('__Host-spa_at', $carol_jar))->{amr}, ['oauth', 'otp'], 'amr ["oauth","otp"]');
};

step 'an unverified e-mail never takes over an account' => sub {
    is($s->api(POST => '/api/v1/auth/signup', { email => 'unverified@example.com', username => 'dave', password => 'dave password 1' },
               jar => "$s->{state}/dave.txt")->{status}, 201, 'dave signs up');
    ($r) = oauth_login('unverified', jar => "$s->{state}/mallory.txt");
    is($r->{headers}{location}[0], '/login?error=account_exists', 'a provider account with his e-mail, unverified: refused');
};

step 'pre-account takeover: a password sign-up never proven is claimed by' => sub {
    # the provider's verified user; the squatter's password and session go.
    # (The squatter talks to spa-authd's socket directly: nginx's login limit
    # of 5 per 15 minutes is spent by the browsers of this test.)
    sub authd_direct {  # (answer, its access cookie)
        my ($path, $body, @headers) = @_;
        my $data = defined $body ? "--data-binary '@{[ encode_json($body) ]}'" : '';
        my $out = `curl -s -D - --unix-socket $s->{state}/run/authd.sock -H 'Content-Type: application/json' @{[ map { "-H '$_'" } @headers ]} $data http://authd$path`;
        my ($head, $json) = split /\r?\n\r?\n/, $out, 2;
        my ($cookie) = $head =~ /__Host-spa_at=([^;]+)/;
        return ((eval { decode_json($json // '') } // {}), $cookie);
    }
    authd_direct('/api/v1/auth/signup', { email => 'frank@example.com', username => 'squatter', password => 'squatter password 1' });
    my (undef, $squat_at) = authd_direct('/api/v1/auth/login', { email => 'frank@example.com', password => 'squatter password 1' });
    my ($squat_me) = authd_direct('/api/v1/auth/me', undef, "Authorization: Bearer @{[ $squat_at // '' ]}");
    is($squat_me->{data}{user}{username}, 'squatter', 'the squatter signs in (this test runs without require_verified_email)');
    ($r) = oauth_login('frank', jar => "$s->{state}/frank.txt");
    is($r->{headers}{location}[0], '/', 'frank signs in with the provider that verified frank@example.com');
    my $frank = $s->api(GET => '/api/v1/auth/me', undef, jar => "$s->{state}/frank.txt")->{json}{data}{user};
    is($frank->{username}, 'squatter', 'into the account that had the address');
    ok(!$frank->{has_password} && $frank->{email_verified}, 'now verified, and without the squatter\'s password');
    is((authd_direct('/api/v1/auth/login', { email => 'frank@example.com', password => 'squatter password 1' }))[0]{error}{code},
       'invalid_credentials', 'the squatter\'s password no longer signs in');
    is((authd_direct('/api/v1/auth/me', undef, "Authorization: Bearer $squat_at"))[0]{error}{code},
       'invalid_token', 'and the squatter\'s session has ended');
};

step 'linking and unlinking' => sub {
    my $erin_jar = "$s->{state}/erin.txt";
    $s->api(POST => '/api/v1/auth/signup', { email => 'erin@example.com', username => 'erin', password => 'erin password 1' }, jar => $erin_jar);
    $s->api(POST => '/api/v1/auth/login', { email => 'erin@example.com', password => 'erin password 1' }, jar => $erin_jar);
    my $link = $s->api(POST => '/api/v1/oauth/link', { provider => 'test' }, jar => $erin_jar);
    is($link->{status}, 200, 'link: 200');
    my $auth_url = $link->{json}{data}{authorization_url} // '';
    like($auth_url, qr{^\Q$op->{issuer}\E/auth\?.*code_challenge_method=S256}, 'with the provider URL for the SPA to open');
    $cb = $op->sign_in($s, $auth_url, login => 'erin-at-idp', jar => $erin_jar);
    $r = $s->browse(GET => $cb, jar => $erin_jar);
    is($r->{headers}{location}[0], '/', 'linked, back to the app');
    is_deeply($s->api(GET => '/api/v1/auth/me', undef, jar => $erin_jar)->{json}{data}{user}{providers}, ['test'], 'erin lists the provider');
    ($r) = oauth_login('erin-at-idp', jar => "$s->{state}/erin2.txt");
    is(claims_of($s->cookie('__Host-spa_at', "$s->{state}/erin2.txt"))->{email}, 'erin@example.com',
       'the linked provider account signs in as erin');
    $link = $s->api(POST => '/api/v1/oauth/link', { provider => 'test' }, jar => $erin_jar);
    $cb = $op->sign_in($s, $link->{json}{data}{authorization_url}, login => 'alice', jar => $erin_jar);
    is($s->browse(GET => $cb, jar => $erin_jar)->{headers}{location}[0], '/login?error=identity_in_use',
       'alice\'s provider account cannot be linked to erin');
    is($s->browse(POST => "$s->{base}/api/v1/oauth/link", headers => ['Content-Type: application/json', 'Origin: https://evil.example'],
                  data => encode_json({ provider => 'test' }), jar => $erin_jar)->{status},
       403, 'link from a foreign Origin: 403');
    is($s->api(POST => '/api/v1/oauth/unlink', { provider => 'test' }, jar => $erin_jar)->{status}, 200, 'erin unlinks (she has a password)');
    is($s->api(POST => '/api/v1/oauth/unlink', { provider => 'test' }, jar => $erin_jar)->{json}{error}{code}, 'not_linked', 'twice: not_linked');
    my $u = $s->api(POST => '/api/v1/oauth/unlink', { provider => 'test' });
    is("$u->{status} $u->{json}{error}{code}", '409 last_sign_in_method', 'alice cannot unlink her only way in');
};

step 'the provider rotates its key: the unknown kid fetches the keys again' => sub {
    $op->restart;
    ($r) = oauth_login('alice', jar => "$s->{state}/rotated.txt");
    is($r->{headers}{location}[0], '/', 'after a key rotation at the provider: login works');
    $op->restart;
    ($r) = oauth_login('alice', jar => "$s->{state}/rotated2.txt");
    is($r->{headers}{location}[0], '/login?error=invalid_id_token',
       'a second unknown key within a minute: refused, keys not fetched again');
};

step 'the provider goes down between the redirect and the callback' => sub {
    $start = $s->browse(GET => start_url());
    $cb = $op->sign_in($s, $start->{headers}{location}[0], login => 'alice');
    $op->stop;
    $r = $s->browse(GET => $cb);
    is($r->{status}, 303, 'provider down: still a redirect');
    is($r->{headers}{location}[0], '/login?error=provider_unavailable', 'with provider_unavailable');
};

step 'what the logs say' => sub {
    my $log = $s->log_text('authd.log');
    my ($code_value) = $callback =~ /code=([^&]+)/;
    my ($state_value) = $callback =~ /state=([^&]+)/;
    unlike($log, qr/\Q$code_value\E/, 'authorization code never logged');
    unlike($log, qr/\Q$state_value\E/, 'state never logged');
    unlike($log, qr/provider secret 1/, 'client secret never logged');
    unlike($log, qr/\Q$at\E/, 'tokens never logged');
    like($log, qr/"event":"oauth_failed".*"reason":"invalid_state"/, 'refusals logged with their reason');
    $s->stop;
    unlike($s->log_text('error.log'), qr/\[(error|alert|crit|emerg)\]/, 'nginx error log clean');
};

done_testing();
