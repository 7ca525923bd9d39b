# Cookies cannot be planted beside ours, and what a client sends is stored
# as valid UTF-8. nginx + spa-authd + the module, as in 009:
# - a token cookie carried twice (any spelling a reader could take for its
#   name) is refused, by spa-authd (400 duplicate_cookie) and by the module
#   (401 invalid_token, $spa_auth_result duplicate_cookie), never one picked;
# - neither token cookie reaches an upstream that is not spa-authd, however
#   the Cookie header is written (several lines, HTTP/2, ','-split,
#   encoded or odd-cased names), while the other cookies do;
# - a User-Agent cut inside a character, or not UTF-8 at all, still logs in
#   and shows back as valid UTF-8.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Encode ();
use JSON::PP;
use Test::More;

my $UP = SpaAuth::Test::free_port();
my $H2 = SpaAuth::Test::free_port();
SpaAuth::Test::prepare_prefix();
start_authd(mode => 'both');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => '
        spa_auth_jwks_file @DIR@/authd/jwks.json;
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;
        server { listen 127.0.0.1:' . $UP . ';
                 location / { return 200 "cookie=[$http_cookie] auth=[$http_authorization]\n"; } }',
    config => '
        listen 127.0.0.1:' . $H2 . ' http2;
        location ~ ^/api/v1/(auth|mfa|oauth|admin)/ {
            spa_auth_pass_token on;
            proxy_pass http://unix:@DIR@/authd.sock;
            proxy_set_header X-Request-Id $request_id;
            proxy_set_header X-Real-IP $remote_addr;
        }
        location /svc/ { spa_auth on; add_header X-Result $spa_auth_result always;
                         proxy_pass http://127.0.0.1:' . $UP . '; }
        location /optional/ { spa_auth optional; add_header X-Result $spa_auth_result always;
                              proxy_pass http://127.0.0.1:' . $UP . '; }
        location /public/ { proxy_pass http://127.0.0.1:' . $UP . '; }
        location /off/ { spa_auth off; proxy_pass http://127.0.0.1:' . $UP . '; }',
);
ok($ok, 'nginx starts') or diag($out);

my $ORIGIN = 'Origin: https://app.example.com';
sub code { "$_[0]{status} " . ($_[0]{json}{error}{code} // '') }
sub utf8_ok { my $b = $_[0]; defined eval { Encode::decode('UTF-8', $b, Encode::FB_CROAK); 1 } }

for my $u (qw(alice mallory)) {
    my $r = json_request(POST => '/api/v1/auth/signup',
                         { email => "$u\@example.com", username => $u, password => "$u long password" });
    is($r->{status}, 201, "signup $u");
}
sub login {
    my ($who, @headers) = @_;
    return json_request(POST => '/api/v1/auth/login', { email => "$who\@example.com", password => "$who long password" },
                        @headers);
}

my $r = login('alice', 'User-Agent: plain/1.0');
is($r->{status}, 200, 'login');
my ($at, $rt) = @{ $r->{json}{data} }{qw(access_token refresh_token)};

step 'item 11: the User-Agent is stored as valid UTF-8' => sub {
    my $cut = ('a' x 255) . "\xC3\xA9" . ('b' x 43);  # 300 bytes, the 256th inside "é"
    is(length $cut, 300, 'the User-Agent is 300 bytes');
    $r = login('alice', "User-Agent: $cut");
    is($r->{status}, 200, 'login with a User-Agent cut inside a character at 256 bytes: 200');
    $r = login('alice', "User-Agent: Mozilla\xFF\xFE/5.0 \xC0\xAF (\xED\xA0\x80)");
    is($r->{status}, 200, 'login with a User-Agent that is not UTF-8: 200');

    $r = http_request('GET /api/v1/auth/sessions', "Authorization: Bearer $at");
    is($r->{status}, 200, 'sessions: 200');
    ok(utf8_ok($r->{body}), 'sessions: the answer is valid UTF-8');
    my %agents = map { $_->{user_agent} => 1 } @{ (eval { decode_json($r->{body}) } // {})->{data}{sessions} // [] };
    ok($agents{'a' x 255}, 'the cut User-Agent is kept up to the last whole character (255 bytes)')
        or diag(explain [keys %agents]);
    ok($agents{"Mozilla\x{FFFD}\x{FFFD}/5.0 \x{FFFD}\x{FFFD} (\x{FFFD}\x{FFFD}\x{FFFD})"},
       'each ill-formed byte (overlong, surrogate) shows as U+FFFD') or diag(explain [keys %agents]);
    $r = http_request('GET /api/v1/auth/export', "Authorization: Bearer $at");
    is($r->{status}, 200, 'export: 200');
    ok(utf8_ok($r->{body}), 'export: the answer is valid UTF-8');
    like($r->{body}, qr/"user_agent":"a{255}"/, 'export: the same User-Agent');
};

step 'item 10 at spa-authd: a refresh cookie carried twice is refused' => sub {
    my $rt_m = login('mallory')->{json}{data}{refresh_token};
    my $refresh = sub { json_request(POST => '/api/v1/auth/refresh', undef, $ORIGIN, @_) };
    $r = $refresh->("Cookie: __Secure-spa_rt=$rt_m; __Secure-spa_rt=$rt");
    is(code($r), '400 duplicate_cookie', "mallory's cookie planted before alice's: 400 duplicate_cookie, no one's session");
    like($r->{json}{error}{message}, qr/__Secure-spa_rt was sent more than once/, 'the message names the cookie');
    ok(!exists $r->{headers}{'set-cookie'}, 'and no tokens are set');
    $r = $refresh->("Cookie: __Secure-spa_rt=$rt; __Secure-spa_rt=$rt_m");
    is(code($r), '400 duplicate_cookie', 'planted after: the same');
    $r = $refresh->("Cookie: __Secure-spa_rt=$rt; %5F_Secure-spa_rt=$rt_m");
    is(code($r), '400 duplicate_cookie', 'planted with a percent-encoded name: the same');
    $r = $refresh->("Cookie: __secure-spa_rt=$rt_m; __Secure-spa_rt=$rt");
    is(code($r), '400 duplicate_cookie', 'planted with another case: the same');
    $r = $refresh->("Cookie: a=1,__Secure-spa_rt=$rt_m; __Secure-spa_rt=$rt");
    is(code($r), '400 duplicate_cookie', "planted inside a ','-split pair: the same");
    $r = $refresh->("Cookie: __Secure-spa_rt=$rt", "Cookie: __Secure-spa_rt=$rt_m");
    is(code($r), '400 duplicate_cookie', 'on two Cookie lines: the same');
    $r = $refresh->("Cookie: theme=dark; __Secure-spa_rt=$rt; lang=en");
    is($r->{status}, 200, 'the refresh cookie alone: 200 (the refusals used nothing up)');
    is($r->{json}{data}{user}{username}, 'alice', "and it is alice's session");
    $at = $r->{json}{data}{access_token};

    $r = json_request(GET => '/api/v1/auth/me', undef, "Cookie: __Host-spa_at=$at; __Host-spa_at=$at");
    is(code($r), '400 duplicate_cookie', 'an access cookie carried twice at spa-authd: 400 duplicate_cookie');
    $r = json_request(GET => '/api/v1/auth/me', undef, "Cookie: __Host-spa_at=$at");
    is($r->{status}, 200, 'once: 200');
    $r = json_request(GET => '/api/v1/oauth/nobody/callback?state=s&code=c', undef,
                      'Cookie: __Secure-spa_oauth=b1; __Secure-spa_oauth=b2');
    is(code($r), '400 duplicate_cookie', 'the OAuth binding cookie carried twice: 400 duplicate_cookie');
    $r = json_request(GET => '/api/v1/oauth/nobody/callback?state=s&code=c', undef, 'Cookie: __Secure-spa_oauth=b1');
    is(code($r), '404 unknown_provider', 'once: the callback goes on');
};

step 'item 10 at the module: the access cookie carried twice is refused' => sub {
    $r = http_request('GET /svc/x', "Cookie: __Host-spa_at=$at; __Host-spa_at=$at");
    is($r->{status}, 401, 'module: __Host-spa_at twice: 401');
    is($r->{headers}{'x-result'}[0], 'duplicate_cookie', '$spa_auth_result duplicate_cookie');
    is($r->{headers}{'www-authenticate'}[0],
       'Bearer realm="spa", error="invalid_token", error_description="the token cookie was sent more than once"',
       'the challenge says why, as for a malformed token');
    is((eval { decode_json($r->{body}) } // {})->{error}{code}, 'invalid_token', 'the envelope: invalid_token');
    for my $case (["%5F_Host-spa_at=x; __Host-spa_at=$at", 'a percent-encoded twin'],
                  ["__Host-spa_at=$at; __HOST-spa_at=x", 'a twin in another case'],
                  ["__Host-spa_at=$at\nCookie: __Host-spa_at=x", 'a twin on another Cookie line']) {
        $r = http_request('GET /svc/x', "Cookie: $case->[0]");
        is("$r->{status} " . ($r->{headers}{'x-result'}[0] // ''), '401 duplicate_cookie', "module: $case->[1]: 401");
    }
    $r = http_request('GET /optional/x', "Cookie: __Host-spa_at=$at; __Host-spa_at=x");
    is("$r->{status} " . ($r->{headers}{'x-result'}[0] // ''), '401 duplicate_cookie', 'spa_auth optional refuses it too');
    $r = http_request('GET /svc/x', "Cookie: theme=dark; __Host-spa_at=$at");
    is("$r->{status} " . ($r->{headers}{'x-result'}[0] // ''), '200 ok', 'module: the cookie once: 200');
    $r = http_request('GET /svc/x', "Authorization: Bearer $at\nCookie: __Host-spa_at=x; __Host-spa_at=y; theme=dark");
    is("$r->{status} " . ($r->{headers}{'x-result'}[0] // ''), '200 ok',
       'a Bearer header is read first: the cookies are not looked at, only taken off');
    is($r->{body}, "cookie=[theme=dark] auth=[]\n", 'and neither reaches the upstream');
    like(error_log_text(), qr/\[info\].*spa_auth: token refused: the token cookie was sent more than once/,
         'the refusal is an info line');
};

step 'neither token cookie reaches an upstream; the other cookies do' => sub {
    my $both = "theme=dark; __Host-spa_at=$at; __Secure-spa_rt=$rt; lang=en";
    for my $path ('/svc/x', '/optional/x', '/public/x', '/off/x') {
        $r = http_request("GET $path", "Cookie: $both");
        is($r->{body}, "cookie=[theme=dark; lang=en] auth=[]\n", "$path: both token cookies stay behind, the others go on");
    }
    $r = http_request('GET /svc/x', join("\n", 'Cookie: theme=dark', "Cookie: __Host-spa_at=$at",
                                         "Cookie: __Secure-spa_rt=$rt", 'Cookie: lang=en'));
    is($r->{body}, "cookie=[theme=dark; lang=en] auth=[]\n", 'one Cookie line per pair: the same');
    $r = http_request('GET /public/x', "Cookie: theme=dark,__Secure-spa_rt=$rt; lang=en, __Host-spa_at=$at");
    is($r->{body}, "cookie=[theme=dark; lang=en] auth=[]\n", "','-split pairs: the same");
    $r = http_request('GET /public/x', "Cookie: %5F_Host-spa_at=x; __secure-spa_rt=y; \x0b__Host-spa_at=z; a=1; "
                                       . "\xC2\xA0__Secure-spa_rt=w");
    is($r->{body}, "cookie=[a=1] auth=[]\n", 'names another reader could take for ours (encoded, case, VT, NBSP): the same');
    $r = http_request('GET /public/x', "Cookie: __Host-spa_at=$at; __Secure-spa_rt=$rt");
    is($r->{body}, "cookie=[] auth=[]\n", 'a Cookie header of token cookies only goes away');

    # HTTP/2 sends one cookie field per pair; nginx joins them before the module looks.
    my @curl = ('curl', '-s', '--http2-prior-knowledge', '--max-time', '10',
                '-H', 'Cookie: theme=dark', '-H', "Cookie: __Host-spa_at=$at", '-H', "Cookie: __Secure-spa_rt=$rt",
                '-H', 'Cookie: lang=en', '-w', '%{http_version} %{http_code}');
    for my $path ('/svc/x', '/public/x') {
        open my $fh, '-|', @curl, "http://127.0.0.1:$H2$path" or die "curl: $!";
        my $body = do { local $/; <$fh> };
        close $fh;
        is($body, "cookie=[theme=dark; lang=en] auth=[]\n2 200", "HTTP/2 $path: both token cookies stay behind");
    }

    # spa-authd's own location is the one that gets them (spa_auth_pass_token on).
    $r = json_request(GET => '/api/v1/auth/me', undef, "Cookie: theme=dark; __Host-spa_at=$at");
    is($r->{status}, 200, 'spa-authd still reads the access cookie');

    unlike(error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'no [error] in the nginx log');
};

stop_nginx();
stop_authd();
done_testing();
