# The shipped conf/nginx.conf: every refusal is the JSON envelope (nginx's
# own 403/404/405/413/502 too), no /api/ path falls through to index.html,
# unsafe cookie requests to the microservices need this site's Origin,
# the WebSocket location takes the subprotocol pair although the http level
# lists other sources, tokens never reach the upstream, and the access log
# holds no OAuth code/state.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use SpaAuth::WsPeers;
use Test::More;

my $s = SpaAuth::Shipped::start();
ok($s->{nginx_ok}, 'shipped nginx.conf starts') or BAIL_OUT($s->{nginx_t});
my $base = $s->{base};

sub envelope_ok {
    my ($r, $status, $code, $what) = @_;
    is($r->{status}, $status, "$what: $status");
    is($r->{headers}{'content-type'}[0], 'application/json', "$what: application/json");
    is($r->{json}{success}, JSON::PP::false, "$what: success false");
    is($r->{json}{error}{code}, $code, "$what: code $code");
    like($r->{json}{meta}{timestamp} // '', qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/, "$what: meta.timestamp");
    is($r->{json}{meta}{version}, 'v1', "$what: meta.version");
    like($r->{json}{meta}{requestId} // '', qr/^[0-9a-f]{32}$/, "$what: meta.requestId");
}

my ($at, $r);
step 'nginx\'s own refusals' => sub {
    envelope_ok($s->browse(GET => "$base/api/v1/nope"), 404, 'not_found', 'unknown /api/v1/ path');
    envelope_ok($s->browse(GET => "$base/api/nope/deeper"), 404, 'not_found', 'unknown legacy /api/ path');
    envelope_ok($s->browse(GET => "$base/api"), 404, 'not_found', '/api itself');
    envelope_ok($s->browse(GET => "$base/api/"), 404, 'not_found', '/api/');
    envelope_ok($s->browse(GET => "$base/API/v1/demo/hello"), 404, 'not_found', '/API/ in capitals');
    is($s->browse(GET => "$base/apix")->{status}, 200, 'a path that only starts with "api" is the app\'s');
    for my $look_alike ('/api.', '/api./v1/demo/x', '/api%3B/v1', '/api%20/v1', '/api%09/x',
                        '/api~/x', '/Api/v1/auth/login') {
        envelope_ok($s->browse(GET => "$base$look_alike"), 404, 'not_found', "look-alike $look_alike");
    }
    # An encoded backslash or dot, or a ";", in a path is refused before any location.
    for my $look_alike ('/api%5Cv1', '/api%2e/x', '/api;/v1/demo/x') {
        envelope_ok($s->browse(GET => "$base$look_alike"), 400, 'bad_request', "look-alike $look_alike");
    }
    isnt($s->browse(GET => "$base/api/v1/x/index.html")->{body},
         do { local $/; open my $fh, '<', SpaAuth::Test::build_dir() . '/spa/index.html'; <$fh> // 'none' },
         'never the SPA index.html');
    envelope_ok($s->browse(POST => "$base/", data => 'x'), 405, 'method_not_allowed', 'POST to a static file');
    envelope_ok($s->browse(POST => "$base/api/v1/auth/login", headers => ['Content-Type: application/json'],
                           data => '{"pad":"' . ('x' x (70 * 1024)) . '"}'), 413, 'payload_too_large', 'body over client_max_body_size');
    # HTTP/1.1: these come before (or while) the request line is read.
    my $long = `curl -sk --http1.1 -D - https://localhost:$s->{port}/api/v1/demo/@{['x' x 9000]}`;
    like($long, qr{^HTTP/1\.1 414}m, 'URI too long: 414');
    like($long, qr/"code":"uri_too_long"/, 'URI too long: the envelope');
    my $big = `curl -sk --http1.1 -D - -H 'Cookie: a=@{['x' x 9000]}' https://localhost:$s->{port}/`;
    like($big, qr{^HTTP/1\.1 400}m, 'header too large: 400');
    like($big, qr/"code":"bad_request"/, 'header too large: the envelope');
    my $plain = `curl -s --http1.1 -D - http://localhost:$s->{port}/api/v1/demo/x`;
    like($plain, qr{^HTTP/1\.1 400}m, 'plain HTTP to the HTTPS port: 400');
    like($plain, qr/"code":"bad_request"/, 'plain HTTP to the HTTPS port: the envelope');
    my $te = `curl -sk --http1.1 -D - -H 'Transfer-Encoding: foo' --data-binary x https://localhost:$s->{port}/api/v1/auth/login`;
    like($te, qr{^HTTP/1\.1 501}m, 'unknown Transfer-Encoding: 501');
    like($te, qr/"code":"not_implemented"/, 'unknown Transfer-Encoding: the envelope');
    my $ver = `printf 'GET /api/v1/demo/x HTTP/2.0\r\nHost: localhost\r\n\r\n' | openssl s_client -quiet -connect 127.0.0.1:$s->{port} 2>/dev/null`;
    like($ver, qr{^HTTP/1\.1 505}m, 'HTTP/2.0 in a request line: 505');
    like($ver, qr/"code":"http_version_not_supported"/, 'HTTP/2.0 in a request line: the envelope');
    my $bad = `curl -sk --http1.1 -D - --request-target 'no-slash' https://localhost:$s->{port}/`;
    like($bad, qr{^HTTP/1\.1 400}m, 'bad request line: 400');
    like($bad, qr/"code":"bad_request"/, 'bad request line: the envelope');
    my $code = `curl -sk --interface 127.0.0.2 -D - -o /dev/null https://127.0.0.1:$s->{port}/spa-auth/status`;
    like($code, qr{^HTTP/\S+ 403}m, 'deny: 403');
    like($code, qr{^content-type: application/json}mi, 'deny: JSON');
    my $body = `curl -sk --interface 127.0.0.2 https://127.0.0.1:$s->{port}/api/v1/admin/users`;
    like($body, qr/^\{"success":false,"error":\{"code":"forbidden"/, 'admin allowlist refusal: the envelope');
};

step 'a user, cookies' => sub {
    $r = $s->api(POST => '/api/v1/auth/signup', { email => 'csrf@example.com', username => 'csrf', password => 'a long csrf password' });
    is($r->{status}, 201, 'signup');
    $r = $s->api(POST => '/api/v1/auth/login', { email => 'csrf@example.com', password => 'a long csrf password' });
    is($r->{status}, 200, 'login');
    $at = $s->cookie('__Host-spa_at');
    ok($at, 'access cookie set');
};

step 'spa-authd reads cookies as the module does (core/cookies.h): exact names' => sub {
    my $rt = $s->cookie('__Secure-spa_rt');
    ok($rt, 'refresh cookie set');
    my @from_page = ("Origin: $s->{origin}", 'Content-Type: application/json');
    $r = $s->browse(POST => "$base/api/v1/auth/refresh", jar => "$s->{state}/none.jar", data => '',
                    headers => [@from_page, "Cookie: __SECURE-spa_rt=$rt"]);
    is($r->{status}, 401, 'spa-authd: __SECURE-spa_rt is not __Secure-spa_rt');
    $r = $s->browse(POST => "$base/api/v1/auth/refresh", jar => "$s->{state}/none2.jar", data => '',
                    headers => [@from_page, "Cookie: theme=dark;\t__Secure-spa_rt=$rt"]);
    is($r->{status}, 200, 'spa-authd: the exact name after a tab refreshes');
    $at = ($r->{headers}{'set-cookie'} // [])->[0] // '';
    ($at) = $at =~ /^__Host-spa_at=([^;]+)/;
    ok($at, 'a new access token');
    system("cp", "$s->{state}/none2.jar", $s->{jar});  # the rotated pair is the browser's now
};

step 'the public service (no spa_auth there) gets no token either: the' => sub {
    # browser sends __Host-spa_at (Path=/) to every path
    $r = $s->browse(GET => "$base/api/v1/public/hello?access_token=$at&x=1",
                    headers => ["Authorization: Bearer $at", "Cookie: __Host-spa_at=$at; theme=dark"]);
    is($r->{status}, 200, 'public service answers');
    is_deeply($r->{json}{data}{credential_headers}, ['cookie theme'], 'public service: no token cookie, no Authorization');
    unlike($r->{body}, qr/\Q$at\E/, 'public service: the token nowhere in what it received');
};

step 'CSRF in front of the microservices' => sub {
    $r = $s->browse(POST => "$base/api/v1/demo/hello", headers => ['Origin: https://evil.example'], data => '{}');
    envelope_ok($r, 403, 'origin_not_allowed', 'cross-site POST with the cookie');
    $r = $s->browse(POST => "$base/api/v1/demo/hello", data => '{}');
    is($r->{status}, 403, 'POST with the cookie and no Origin: 403');
    $r = $s->browse(POST => "$base/api/v1/demo/hello", headers => ["Origin: http://localhost:$s->{port}"], data => '{}');
    is($r->{status}, 403, 'http:// Origin for an https site: 403');
    $r = $s->api(POST => '/api/v1/demo/hello', {});
    is($r->{status}, 200, 'POST from the site itself passes');
    $r = $s->browse(GET => "$base/api/v1/demo/hello", headers => ['Origin: https://evil.example']);
    is($r->{status}, 200, 'GET needs no Origin');
};

step 'the token stays at the module' => sub {
    $r = $s->browse(GET => "$base/api/v1/demo/hello?x=1", headers => ['Cookie: theme=dark']);
    is($r->{status}, 200, 'the demo service with the cookie');
    is_deeply($r->{json}{data}{credential_headers}, ['cookie theme'], 'it got the other cookie, not the token cookie');
    $r = $s->browse(GET => "$base/api/v1/demo/hello", jar => "$s->{state}/empty.jar",
                    headers => ["Authorization: Bearer $at", 'Cookie: __Secure-spa_rt=refresh-secret; __HOST-spa_at=x; a=1']);
    is($r->{status}, 200, 'the demo service with a bearer token');
    is_deeply($r->{json}{data}{credential_headers}, ['cookie a'], 'no Authorization, no token or refresh cookie upstream');
    $r = $s->browse(GET => "$base/api/v1/demo/hello?x=1&access_token=$at");
    is($r->{json}{data}{query}, 'x=1', 'access_token (RFC 6750 §2.3) never goes upstream, even where the location does not read it');
};

step 'the WebSocket location: subprotocol pair although http says header cookie=..' => sub {
    {
        my $ws = SpaAuth::WsPeers::client(url => "wss://localhost:$s->{port}/ws/chat", origin => $s->{origin},
                                          protocols => ['bearer', $at], close_after_ms => 100);
        ok($ws->{opened}, 'wss with Sec-WebSocket-Protocol: bearer, <jwt>') or diag(explain $ws);
        is($ws->{protocol}, 'bearer', 'bearer chosen');
        is($ws->{greeting}{offered_protocols}, 'bearer', 'the service was offered bearer alone');
    }
};

step 'the access log' => sub {
    $s->browse(GET => "$base/api/v1/oauth/x/callback?code=SECRETCODE123&state=SECRETSTATE456");
    $s->browse(GET => "$base/api/v1/demo/hello?access_token=SECRETQT789");
};

step 'spa-authd down: 502, still the envelope' => sub {
    kill 'KILL', $s->{pids}[0];
    waitpid($s->{pids}[0], 0);
    envelope_ok($s->browse(GET => "$base/api/v1/auth/me"), 502, 'service_unavailable', 'spa-authd down');
    envelope_ok($s->api(POST => '/api/v1/auth/login', { email => 'x@example.com', password => 'some password' }),
                502, 'service_unavailable', 'spa-authd down: login');
    envelope_ok($s->api(POST => '/api/v1/auth/refresh'), 502, 'service_unavailable', 'spa-authd down: refresh');
    # nginx logs the upstream URI (with the query proxy_pass sent on) when the
    # upstream fails; its secrets are masked there too, and in the Referer.
    $s->browse(GET => "$base/api/v1/oauth/x/callback?code=UPSTREAMCODE1&x=1;state=UPSTREAMSTATE2",
               headers => ['Referer: https://idp.example/cb?code=REFERERCODE3']);
    $s->browse(GET => "$base/api/v1/auth/login?password=UPSTREAMPW4&access_token[]=UPSTREAMAT5");
    like($s->log_text('error.log'), qr{upstream: "http://unix:[^"]*/api/v1/oauth/x/callback\?code=\*+&x=1;state=\*+"},
         'the upstream URI in the error log: masked');

    $s->stop;
    my $access = $s->log_text('access.log');
    like($access, qr{GET /api/v1/oauth/x/callback\?code=\[redacted\]&state=\[redacted\]}, 'the log shows the redacted callback');
    unlike($access, qr/SECRETCODE123|SECRETSTATE456|SECRETQT789/, 'and no code, state or query token');
    unlike($s->log_text('error.log'), qr/SECRETCODE123|SECRETSTATE456|SECRETQT789|UPSTREAM|REFERERCODE/, 'nor does the error log');
    my $log = $s->log_text('error.log');
    my @bad = grep { /\[(alert|crit|emerg)\]/ || (/\[error\]/ && !/connect\(\) to unix:.*failed|too large body|forbidden by rule/) }
              split /\n/, $log;
    ok(!@bad, 'no unexpected errors in the nginx log') or diag(join "\n", @bad);
};

done_testing();
