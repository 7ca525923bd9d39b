# Accounts and sessions end to end: nginx + spa-authd + the module reading
# spa-authd's store. Every refusal is checked with its status and code.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
start_authd(extra => "", mode => 'both', grace => 1);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => '
        spa_auth_jwks_file @DIR@/authd/jwks.json;
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;
        spa_auth_claim_header X-User-Sub sub;
        spa_auth_claim_header X-User-Email email;',
    config => '
        location ~ ^/api/v1/(auth|mfa|oauth|admin)/ {
            spa_auth_pass_token on;
            proxy_pass http://unix:@DIR@/authd.sock;
            proxy_set_header X-Request-Id $request_id;
            proxy_set_header X-Real-IP $remote_addr;
        }
        location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }
        # The auth_request pattern, without the module on the path: nginx
        # asks spa-authd GET /api/v1/auth/verify and passes on its headers.
        location /ar/ {
            # The module (loaded here) removes tokens from every request
            # unless told not to; nginx without the module needs neither line.
            spa_auth_pass_token on;
            proxy_set_header Authorization "";
            auth_request /.verify;
            auth_request_set $ar_sub $upstream_http_x_user_id;
            auth_request_set $ar_email $upstream_http_x_user_email;
            auth_request_set $ar_role $upstream_http_x_user_role;
            proxy_set_header X-User-Sub $ar_sub;
            proxy_set_header X-User-Email $ar_email;
            proxy_set_header X-User-Role $ar_role;
            proxy_pass http://127.0.0.1:@ECHO_PORT@;
        }
        location = /.verify {
            internal;
            spa_auth_pass_token on;
            proxy_pass http://unix:@DIR@/authd.sock:/api/v1/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }',
);
ok($ok, 'nginx starts with the session store') or diag($out);

sub api { json_request(@_) }
sub code { $_[0]{json}{error}{code} // '' }
sub svc {
    my ($token) = @_;
    my $r = http_request('GET /svc/x', "Authorization: Bearer $token");
    return "$r->{status} " . ($r->{headers}{'x-result'}[0] // '');
}

my %alice = (email => 'Alice@Example.com', username => 'alice', password => 'correct horse battery');

my ($at, $rt, $r, $at2, $rt2, @s);
step 'sign-up and its refusals' => sub {
    $r = api(POST => '/api/v1/auth/signup', \%alice);
    is($r->{status}, 201, 'signup: 201');
    is($r->{json}{data}{user}{email}, 'Alice@Example.com', 'signup: user in the envelope');
    ok(!exists $r->{json}{data}{user}{password}, 'signup: no password hash in the answer');
    like($r->{json}{meta}{requestId}, qr/^[0-9a-f]{32}$/, 'signup: request id from nginx');

    # A taken address (case-folded) answers exactly as a new one: no account
    # oracle (the owner gets a mail instead; 025 reads it).
    my $new = api(POST => '/api/v1/auth/signup', { email => 'carl@example.com', username => 'carl', password => 'carl long password' });
    $r = api(POST => '/api/v1/auth/signup', { %alice, email => 'alice@EXAMPLE.com', username => 'alice2' });
    is("$r->{status} " . code($r), "$new->{status} " . code($new), 'duplicate e-mail: the status of a new sign-up');
    is_deeply([sort keys %{ $r->{json}{data}{user} }], [sort keys %{ $new->{json}{data}{user} }], 'and the same fields');
    is(api(POST => '/api/v1/auth/signup', { email => 'alice2@example.com', username => 'alice2', password => 'long enough pw 2' })->{status},
       201, 'the second sign-up stored nothing (its username is still free)');
    $r = api(POST => '/api/v1/auth/signup', { %alice, email => 'other@example.com' });
    is("$r->{status} " . code($r), '409 username_taken', 'duplicate username: 409');
    $r = api(POST => '/api/v1/auth/signup', '{"email": "x@example.com", "username": ');
    is("$r->{status} " . code($r), '400 invalid_request', 'malformed JSON: 400 invalid_request');
    $r = api(POST => '/api/v1/auth/signup', { email => 42, username => 'bob', password => 'x' });
    is("$r->{status} " . code($r), '400 validation_failed', 'wrong type: 400 validation_failed');
    $r = api(POST => '/api/v1/auth/signup', { email => 'not-an-email', username => 'bob', password => 'long enough pw' });
    is("$r->{status} " . code($r), '400 validation_failed', 'bad e-mail: 400');
    $r = api(POST => '/api/v1/auth/signup', { email => 'bob@example.com', username => 'b', password => 'long enough pw' });
    is("$r->{status} " . code($r), '400 validation_failed', 'bad username: 400');
    $r = api(POST => '/api/v1/auth/signup', { email => 'bob@example.com', username => 'bob', password => 'short' });
    is("$r->{status} " . code($r), '400 validation_failed', 'short password: 400');
    $r = api(POST => '/api/v1/auth/signup', { email => 'bob@example.com', username => 'bob', password => 'Password123' });
    like($r->{json}{error}{message}, qr/too common/, 'common password refused');
    $r = api(POST => '/api/v1/auth/signup', '{"email":"' . ('a' x 200000) . '"}');
    is($r->{status}, 413, 'huge body: 413');
    $r = api(POST => '/api/v1/auth/signup', '{"email":"a@example.com","email":"b@example.com","username":"bob","password":"long enough pw"}');
    is("$r->{status} " . code($r), '400 invalid_request', 'duplicate JSON member: 400');
};

step 'login' => sub {
    $r = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => 'wrong password' });
    is("$r->{status} " . code($r), '401 invalid_credentials', 'wrong password: 401 invalid_credentials');
    $r = api(POST => '/api/v1/auth/login', { email => 'nobody@example.com', password => 'wrong password' });
    is("$r->{status} " . code($r), '401 invalid_credentials', 'unknown user: the same 401');
    $r = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} });
    is($r->{status}, 200, 'login: 200');
    ($at, $rt) = @{ $r->{json}{data} }{qw(access_token refresh_token)};
    ok($at && $rt, 'login: bearer tokens (mode both)');
    is($r->{json}{data}{expires_in}, 900, 'expires_in');
    my @cookies = @{ $r->{headers}{'set-cookie'} // [] };
    ok((grep { /^__Host-spa_at=[^;]+; Path=\/; Secure; HttpOnly; SameSite=Strict; Max-Age=900$/ } @cookies), 'access cookie flags');
    ok((grep { /^__Secure-spa_rt=[^;]+; Path=\/api\/v1\/auth; Secure; HttpOnly; SameSite=Strict; Max-Age=604800$/ } @cookies), 'refresh cookie flags');

    my $claims = decode_json(MIME::Base64::decode_base64url((split /\./, $at)[1]));
    is_deeply([sort keys %$claims], [sort qw(iss aud sub sid jti iat nbf exp auth_time email email_verified username role amr mfa)], 'access token claims');
    is($claims->{exp} - $claims->{iat}, 900, '15-minute access token');

    $r = http_request('GET /svc/x', "Authorization: Bearer $at");
    is($r->{status}, 200, 'protected upstream call with the access token');
    like($r->{body}, qr/email=Alice\@Example\.com/, 'identity reaches the service');

    $r = api(GET => '/api/v1/auth/me', undef, "Authorization: Bearer $at");
    is($r->{json}{data}{user}{username}, 'alice', 'me');
    $r = api(GET => '/api/v1/auth/me');
    is("$r->{status} " . code($r), '401 invalid_token', 'me without a token: 401');
};

step 'refresh, grace, reuse' => sub {
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
    is($r->{status}, 200, 'refresh: 200');
    ($at2, $rt2) = @{ $r->{json}{data} }{qw(access_token refresh_token)};
    isnt($rt2, $rt, 'refresh: rotated');
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
    is($r->{json}{data}{refresh_token}, $rt2, 'parallel refresh within the grace window: the same new pair');
    is(svc($at2), '200 ok', 'new access token works');
    sleep 2.2;  # refresh_grace = 1s in this test
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
    is("$r->{status} " . code($r), '401 invalid_token', 'reuse after the grace window: 401');
    like($r->{json}{error}{message}, qr/already used/, 'says why');
    is(svc($at2), '401 revoked', 'family revoked: its access token refused by the module on the next request');
    is(svc($at), '401 revoked', 'and the first one too');
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => $rt2 });
    is("$r->{status} " . code($r), '401 invalid_token', 'the successor is dead too');
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => 'made-up' });
    is("$r->{status} " . code($r), '401 invalid_token', 'unknown refresh token: 401');
    $r = api(POST => '/api/v1/auth/refresh', { refresh_token => 7 });
    is("$r->{status} " . code($r), '400 validation_failed', 'refresh token of the wrong type: 400');
};

step 'tokens whose sid names no session of ours' => sub {
    my $key = (glob("$dir/authd/keys/*.pem"))[0];
    my %iss = (iss => 'https://app.example.com', aud => 'spa');
    is(svc(SpaAuth::Test::mint_with($key, claims => { %iss, sid => undef })), '401 revoked', 'signed by authd but no sid: 401, not a server error');
    is(svc(SpaAuth::Test::mint_with($key, claims => { %iss, sid => 'x' x 600 })), '401 revoked', 'overlong sid: 401');
    is(svc(SpaAuth::Test::mint_with($key, claims => { %iss, sid => 'f' x 32 })), '401 revoked', 'unknown sid: 401');
    # A live session of alice's, named by a token of someone else (only a
    # stolen key makes one): refused by the module and by spa-authd.
    my $l = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} });
    my ($sid, $uid) = ($l->{json}{data}{session_id}, $l->{json}{data}{user}{id});
    my %live = (%iss, sid => $sid);
    my $own = SpaAuth::Test::mint_with($key, claims => { %live, sub => $uid });
    is(svc($own), '200 ok', "a token of alice's own session passes");
    is(api(GET => '/api/v1/auth/me', undef, "Authorization: Bearer $own")->{status}, 200,
       'spa-authd takes a token of its key without auth_time (it aborted on one)');
    is(svc(SpaAuth::Test::mint_with($key, claims => { %live, sub => 'f' x 32 })), '401 revoked', "another subject on alice's session: 401");
    is(svc(SpaAuth::Test::mint_with($key, claims => { %live, sub => uc $uid })), '401 revoked', '... her id in capitals is another subject');
    my $forged = SpaAuth::Test::mint_with($key, claims => { %live, sub => 'f' x 32, role => 'admin' });
    is("" . api(GET => '/api/v1/auth/me', undef, "Authorization: Bearer $forged")->{status}, '401', 'spa-authd refuses it too');
    api(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $l->{json}{data}{access_token}");
};

step 'GET /api/v1/auth/verify, and nginx auth_request on it' => sub {
    $r = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} });
    my ($token, $uid) = ($r->{json}{data}{access_token}, $r->{json}{data}{user}{id});
    my $v = http_request('GET /api/v1/auth/verify', "Authorization: Bearer $token");
    is($v->{status}, 204, 'a valid token: 204');
    is($v->{body}, '', '... without a body');
    is($v->{headers}{'x-user-id'}[0], $uid, '... X-User-Id is the user');
    is($v->{headers}{'x-user-email'}[0], $alice{email}, '... X-User-Email');
    is($v->{headers}{'x-user-name'}[0], 'alice', '... X-User-Name');
    is($v->{headers}{'x-user-role'}[0], 'user', '... X-User-Role');
    is($v->{headers}{'x-user-session'}[0], $r->{json}{data}{session_id}, '... X-User-Session');
    is($v->{headers}{'x-user-mfa'}[0], 'false', '... X-User-MFA');
    is($v->{headers}{'cache-control'}[0], 'no-store', '... never cached');
    # A claim that cannot be a header (minted with spa-authd's key on this
    # live session) is left out; the rest still comes.
    my $key = (glob("$dir/authd/keys/*.pem"))[0];
    my $odd = SpaAuth::Test::mint_with($key, claims => { iss => 'https://app.example.com', aud => 'spa', sub => $uid,
                                                          sid => $r->{json}{data}{session_id}, role => 'user',
                                                          email => "a\r\nX-User-Role: admin", username => 'u' x 1025 });
    $v = http_request('GET /api/v1/auth/verify', "Authorization: Bearer $odd");
    is($v->{status}, 204, 'a token with an unsafe e-mail claim and a 1025-byte username: 204');
    ok(!exists $v->{headers}{'x-user-email'}, '... without X-User-Email (CR LF in it)');
    ok(!exists $v->{headers}{'x-user-name'}, '... without X-User-Name (past 1 KiB)');
    is_deeply($v->{headers}{'x-user-role'}, ['user'], '... and one X-User-Role, the claim\'s');
    my $at_bound = SpaAuth::Test::mint_with($key, claims => { iss => 'https://app.example.com', aud => 'spa', sub => $uid,
                                                               sid => $r->{json}{data}{session_id}, username => 'u' x 1024 });
    is(length(http_request('GET /api/v1/auth/verify', "Authorization: Bearer $at_bound")->{headers}{'x-user-name'}[0] // ''), 1024,
       'a username of 1024 bytes (the bound) is passed on');
    $v = http_request('GET /api/v1/auth/verify');
    is("$v->{status} " . (eval { decode_json($v->{body})->{error}{code} } // ''), '401 invalid_token', 'no token: 401 in the envelope');
    $v = http_request('GET /api/v1/auth/verify', 'Authorization: Bearer x.y.z');
    is("$v->{status} " . (eval { decode_json($v->{body})->{error}{code} } // ''), '401 invalid_token', 'a malformed token: 401');
    my $ar = http_request('GET /ar/x', "Authorization: Bearer $token\nX-User-Role: admin");
    is($ar->{status}, 200, 'auth_request: a valid token passes');
    like($ar->{body}, qr/^sub=\Q$uid\E$/m, '... the service gets the user from spa-authd');
    like($ar->{body}, qr/^role=user$/m, '... and the role spa-authd vouches for, not the client\'s');
    is(http_request('GET /ar/x')->{status}, 401, 'auth_request: no token, 401');
    api(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $token");
    is(http_request('GET /api/v1/auth/verify', "Authorization: Bearer $token")->{status}, 401, 'after logout: 401 at once');
    is(http_request('GET /ar/x', "Authorization: Bearer $token")->{status}, 401, '... and through auth_request');
};

step 'logout takes effect at once' => sub {
    $r = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} });
    my $at3 = $r->{json}{data}{access_token};
    is(svc($at3), '200 ok', 'new session works');
    $r = api(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $at3");
    is($r->{status}, 200, 'logout: 200');
    ok((grep { /^__Host-spa_at=; .*Max-Age=0$/ } @{ $r->{headers}{'set-cookie'} // [] }), 'logout clears the cookies');
    is(svc($at3), '401 revoked', 'logged-out token refused on the very next request');
    my $s4 = api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} })->{json}{data};
    $r = api(POST => '/api/v1/auth/logout', { refresh_token => $s4->{refresh_token} });
    is($r->{status}, 200, 'logout with only the refresh token (access token expired)');
    is(svc($s4->{access_token}), '401 revoked', 'that session ends too');
    $r = api(POST => '/api/v1/auth/logout', { refresh_token => 'nothing' });
    is("$r->{status} " . code($r), '401 invalid_token', 'logout without any session: 401');
};

step 'sessions: list and revoke one' => sub {
    @s = map { api(POST => '/api/v1/auth/login', { email => 'alice@example.com', password => $alice{password} })->{json}{data} } 1 .. 2;
    $r = api(GET => '/api/v1/auth/sessions', undef, "Authorization: Bearer $s[0]{access_token}");
    is(scalar @{ $r->{json}{data}{sessions} }, 2, 'two active sessions listed');
    my ($current) = grep { $_->{current} } @{ $r->{json}{data}{sessions} };
    is($current->{id}, $s[0]{session_id}, 'the caller\'s own session is marked current');
    $r = api(DELETE => "/api/v1/auth/sessions/$s[1]{session_id}", undef, "Authorization: Bearer $s[0]{access_token}");
    is($r->{status}, 200, 'revoke another session');
    is(svc($s[1]{access_token}), '401 revoked', 'its token refused at once');
    is(svc($s[0]{access_token}), '200 ok', 'the caller\'s session is untouched');
    $r = api(DELETE => '/api/v1/auth/sessions/' . ('0' x 32), undef, "Authorization: Bearer $s[0]{access_token}");
    is("$r->{status} " . code($r), '404 not_found', 'someone else\'s or unknown session: 404');
};

step 'cookies and Origin' => sub {
    my $cookie_rt = $s[0]{refresh_token};
    $r = api(POST => '/api/v1/auth/refresh', undef, "Cookie: __Secure-spa_rt=$cookie_rt", 'Origin: https://evil.example');
    is("$r->{status} " . code($r), '403 origin_not_allowed', 'cookie refresh from a foreign Origin: 403');
    $r = api(POST => '/api/v1/auth/refresh', undef, "Cookie: __Secure-spa_rt=$cookie_rt");
    is("$r->{status} " . code($r), '403 origin_not_allowed', 'cookie refresh without Origin: 403');
    $r = api(POST => '/api/v1/auth/refresh', undef, "Cookie: __Secure-spa_rt=$cookie_rt", 'Origin: https://app.example.com');
    is($r->{status}, 200, 'cookie refresh from the app\'s Origin: 200');
};

step 'lockout' => sub {
    api(POST => '/api/v1/auth/signup', { email => 'carol@example.com', username => 'carol', password => 'carol password 1' });
    my @codes = map { api(POST => '/api/v1/auth/login', { email => 'carol@example.com', password => 'nope nope nope' })->{status} } 1 .. 5;
    is("@codes", '401 401 401 401 423', 'fifth failure locks the account');
    $r = api(POST => '/api/v1/auth/login', { email => 'carol@example.com', password => 'carol password 1' });
    is("$r->{status} " . code($r), '423 account_locked', 'locked even with the right password');
    like($r->{headers}{'retry-after'}[0] // '', qr/^\d+$/, 'Retry-After given');
};

step 'logs: never a password or token' => sub {
    stop_authd('TERM');
    my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
    for my $secret ($alice{password}, $at, $rt, $rt2, 'carol password 1') {
        ok(index($log, $secret) < 0, 'no secret in the authd log');
    }
    like($log, qr/"event":"refresh_reuse"/, 'reuse logged (without the token)');
};

stop_nginx();
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nginx error log clean');
done_testing();
