# Hostile input through the shipped nginx.conf, spa-authd and the demo
# service, one table row per input: oversized headers, cookies and tokens at
# and past each bound, deeply nested and huge JSON, invalid UTF-8, NUL
# bytes, request smuggling, duplicate headers, SQL and HTML in e-mail
# addresses and usernames, over HTTP/1.1 (curl, or raw bytes through
# `openssl s_client` where curl would clean the input) and HTTP/2 (curl).
# Each row names the status it must get and, for an envelope, the code;
# after the table no nginx worker has died ("exited on signal") and
# spa-authd still answers. Rate limits are raised so that every row counts
# (020 and 021 test the limits). CR/LF in a claim is in 005: minting a
# token needs a key of the test's own.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

my $s = SpaAuth::Shipped::start(many_requests => 1);
ok($s->{nginx_ok}, 'shipped nginx.conf starts') or BAIL_OUT($s->{nginx_t});
my $base = $s->{base};
my $tmp = tempdir(CLEANUP => 1);

# One request through curl. proto: h1 or h2; body: bytes (NUL allowed).
sub curl_req {
    my (%r) = @_;
    my @args = ('curl', '-sk', '--max-time', '20', $r{proto} eq 'h2' ? '--http2' : '--http1.1', '-X', $r{method},
                '-D', "$tmp/head", '-o', "$tmp/body");
    push @args, '-H', $_ for @{ $r{headers} // [] };
    if (defined $r{body}) {
        SpaAuth::Test::write_file("$tmp/req", $r{body});
        push @args, '--data-binary', "\@$tmp/req";
    }
    unlink "$tmp/head", "$tmp/body";
    system(@args, "$base$r{path}");
    my $res = { status => 0, headers => {}, body => '' };
    if (open my $fh, '<', "$tmp/head") {
        while (my $line = <$fh>) {
            $line =~ s/\r?\n$//;
            if ($line =~ m{^HTTP/\S+ (\d{3})}) { $res->{status} = $1; $res->{headers} = {}; next }
            my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
            push @{ $res->{headers}{lc $k} }, $v;
        }
    }
    if (open my $fh, '<', "$tmp/body") { local $/; $res->{body} = <$fh> // '' }
    return $res;
}

# The bytes as they are, over TLS (HTTP/1.1): what a hand-made client sends.
sub raw_req {
    my ($bytes) = @_;
    SpaAuth::Test::write_file("$tmp/raw", $bytes);
    my $out = `timeout 20 openssl s_client -quiet -connect 127.0.0.1:$s->{port} -servername localhost <$tmp/raw 2>/dev/null`;
    my $res = { status => 0, headers => {}, body => '' };
    my ($head, $body) = split /\r\n\r\n/, $out, 2;
    $res->{status} = $1 if ($head // '') =~ m{^HTTP/1\.1 (\d{3})};
    for (split /\r\n/, $head // '') { push @{ $res->{headers}{lc $1} }, $2 if /^([^:]+):\s*(.*)$/ }
    $res->{body} = $body // '';
    # Chunked (nginx's own pages are not; the upstream's may be): the first chunk.
    $res->{body} = $1 if ($res->{headers}{'transfer-encoding'}[0] // '') eq 'chunked' && $res->{body} =~ /^[0-9a-f]+\r\n(.*?)\r\n/s;
    return $res;
}

sub raw_head {
    my ($line, @headers) = @_;
    return join('', "$line\r\n", "Host: localhost\r\n", map({ "$_\r\n" } @headers), "Connection: close\r\n");
}

my $user = 'hostile' . $$;
my $password = 'a long enough password for hostile';
my $origin = "Origin: $s->{origin}";
my $json = 'Content-Type: application/json';
my $r = $s->api(POST => '/api/v1/auth/signup', { email => "$user\@example.com", username => $user, password => $password });
is($r->{status}, 201, 'the table\'s user signs up') or diag($r->{body});
$r = $s->api(POST => '/api/v1/auth/login', { email => "$user\@example.com", password => $password });
is($r->{status}, 200, 'and logs in') or diag($r->{body});
my $at = $s->cookie('__Host-spa_at');
ok($at, 'the access token is in its cookie');
my $bearer = "Authorization: Bearer $at";

my $demo = '/api/v1/demo/hello';
my $big = sub { my ($n, $c) = @_; my $text = ($c // 'a') x $n; $text };
sub nested { my ($depth) = @_; ('{"a":' x $depth) . '1' . ('}' x $depth) }
sub signup_body { my (%f) = @_; encode_json({ email => "x$$\@example.com", username => "x$$", password => $password, %f }) }
my $padded = sub {    # a sign-up body of exactly N bytes (a padding member), a user of its own
    my ($n, $who) = @_;
    $who //= 'p';
    my $b = signup_body(pad => '', email => "$who$$\@example.com", username => "$who$$");
    $b =~ s/"pad":""/'"pad":"' . ('p' x ($n - length($b))) . '"'/e;
    return $b;
};

# name, how (h1 | h2 | raw), request, expected status [, envelope code].
my @rows = (
    # --- tokens and headers, at and past the bounds
    ['valid token', 'both', { method => 'GET', path => $demo, headers => [$bearer] }, 200],
    ['no token', 'both', { method => 'GET', path => $demo }, 401, 'missing_token'],
    ['token of 7 KiB garbage', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . $big->(7 * 1024, 'x')] }, 401, 'invalid_token'],
    ['token of 7 KiB, three parts', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . join('.', $big->(2400), $big->(2400), $big->(2400))] }, 401, 'invalid_token'],
    ['Authorization past 8 KiB (HTTP/1.1 header buffer)', 'h1', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . $big->(9 * 1024)] }, 400, 'bad_request'],
    # HTTP/2 bounds the field as HPACK codes it: 9 KiB of 'a' is 5.6 KiB
    # there and reaches the module; past 8 KiB coded, nginx ends the
    # connection without an answer (logged at info), so curl sees none.
    ['Authorization of 9 KiB over HTTP/2 (5.6 KiB coded)', 'h2', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . $big->(9 * 1024)] }, 401, 'invalid_token'],
    ['Authorization of 20 KiB', 'h1', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . $big->(20 * 1024)] }, 400, 'bad_request'],
    ['Authorization of 20 KiB over HTTP/2', 'h2', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . $big->(20 * 1024)] }, 0],
    ['valid token, a byte appended', 'both', { method => 'GET', path => $demo, headers => ["${bearer}x"] }, 401, 'invalid_token'],
    ['valid token, a byte cut', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Bearer ' . substr($at, 0, -1)] }, 401, 'invalid_token'],
    # nginx itself refuses a second Authorization line (before any module).
    ['two Authorization headers, both the token', 'both', { method => 'GET', path => $demo, headers => [$bearer, $bearer] }, 400, 'bad_request'],
    ['two Authorization headers, one garbage', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Bearer x.y.z', $bearer] }, 400, 'bad_request'],
    ['scheme only', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Bearer'] }, 401, 'missing_token'],
    ['Basic credentials', 'both', { method => 'GET', path => $demo, headers => ['Authorization: Basic YWxpY2U6c2VjcmV0'] }, 401, 'missing_token'],
    ['token cookie twice', 'both', { method => 'GET', path => $demo, headers => ["Cookie: __Host-spa_at=$at; __Host-spa_at=$at"] }, 401, 'invalid_token'],
    ['token cookie of 7 KiB', 'both', { method => 'GET', path => $demo, headers => ['Cookie: __Host-spa_at=' . $big->(7 * 1024)] }, 401, 'invalid_token'],
    ['Cookie line past 8 KiB', 'h1', { method => 'GET', path => $demo, headers => ['Cookie: a=' . $big->(9 * 1024)] }, 400, 'bad_request'],
    ['60 cookies of 40 bytes beside the token', 'both', { method => 'GET', path => $demo, headers => [map({ "Cookie: c$_=" . $big->(36) } 1 .. 60), "Cookie: __Host-spa_at=$at"] }, 200],
    ['100 header lines', 'both', { method => 'GET', path => $demo, headers => [$bearer, map { "X-Filler-$_: " . $big->(50) } 1 .. 100] }, 200],
    ['URI past 8 KiB', 'h1', { method => 'GET', path => "$demo?" . $big->(9 * 1024) }, 414, 'uri_too_long'],
    ['URI of 9 KiB over HTTP/2 (5.6 KiB coded)', 'h2', { method => 'GET', path => "$demo?" . $big->(9 * 1024) }, 401, 'missing_token'],
    ['client-sent X-User-Id with a valid token', 'both', { method => 'GET', path => $demo, headers => [$bearer, 'X-User-Id: admin'] }, 200,
     undef, sub { unlike($_[0]{body}, qr/"admin"/, 'the client\'s X-User-Id never reaches the service') }],
    # --- raw bytes: what curl would not send
    ['NUL in Authorization', 'raw', raw_head("GET $demo HTTP/1.1", "Authorization: Bearer a\0b") . "\r\n", 400, 'bad_request'],
    ['bytes 0x80-0xff in the token', 'raw', raw_head("GET $demo HTTP/1.1", "Authorization: Bearer \xff\xfe\x80." . $at) . "\r\n", 401, 'invalid_token'],
    ['DEL and controls in the token', 'raw', raw_head("GET $demo HTTP/1.1", "Authorization: Bearer a\x7f\x01b") . "\r\n", 401, 'invalid_token'],
    ['CR alone inside a header value', 'raw', raw_head("GET $demo HTTP/1.1", "Authorization: Bearer a\rX-User-Id: admin") . "\r\n", 400, 'bad_request'],
    ['obs-fold continuation line', 'raw', raw_head("GET $demo HTTP/1.1", $bearer, " X-User-Role: admin") . "\r\n", 400, 'bad_request'],
    ['Content-Length and Transfer-Encoding', 'raw', raw_head('POST /api/v1/auth/login HTTP/1.1', $json, $origin, 'Content-Length: 4', 'Transfer-Encoding: chunked') . "\r\n0\r\n\r\n", 400, 'bad_request'],
    ['two Content-Length values', 'raw', raw_head('POST /api/v1/auth/login HTTP/1.1', $json, $origin, 'Content-Length: 2', 'Content-Length: 3') . "\r\n{}", 400, 'bad_request'],
    ['an unknown Transfer-Encoding', 'raw', raw_head('POST /api/v1/auth/login HTTP/1.1', $json, $origin, 'Transfer-Encoding: gzip, chunked') . "\r\n0\r\n\r\n", 501, 'not_implemented'],
    ['request line with HTTP/2.0', 'raw', "GET $demo HTTP/2.0\r\nHost: localhost\r\nConnection: close\r\n\r\n", 505, 'http_version_not_supported'],
    ['NUL in the path', 'raw', raw_head("GET /api/v1/demo/a\0b HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['encoded NUL in the path', 'raw', raw_head("GET /api/v1/demo/a%00b HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    # Paths nginx and an upstream would read differently: nginx matches the
    # decoded, resolved path, a service may route on the raw one. Refused
    # before any location (the step-up and admin checks would be skipped).
    ['encoded dot-segments out of the step-up location', 'raw', raw_head("GET /api/v1/demo/sensitive/report%2F..%2F..%2Fhello HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['encoded dot-segments out of the admin location', 'both', { method => 'GET', path => '/api/v1/demo/admin/users%2f%2e%2e%2f%2e%2e%2fhello', headers => [$bearer] }, 400, 'bad_request'],
    ['a raw dot-segment', 'raw', raw_head("GET /api/v1/demo/sensitive/../hello HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['a raw ./ segment', 'raw', raw_head("GET /api/v1/demo/./hello HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['an encoded backslash', 'both', { method => 'GET', path => '/api/v1/demo/a%5Cb', headers => [$bearer] }, 400, 'bad_request'],
    ['an encoded slash in an authd path', 'both', { method => 'GET', path => '/api/v1/auth%2Fme', headers => [$bearer] }, 400, 'bad_request'],
    ['a backslash and a dot segment (a "/" to many URL parsers)', 'raw', raw_head("GET /api/v1/demo/x/..\\admin/users HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['a backslash alone', 'raw', raw_head("GET /api/v1/demo/a\\b HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['a path parameter (;), which servlet stacks remove', 'both', { method => 'GET', path => '/api/v1/demo/admin;/users', headers => [$bearer] }, 400, 'bad_request'],
    ['a dot segment before a #', 'raw', raw_head("GET /api/v1/demo/x/..#/admin HTTP/1.1", $bearer) . "\r\n", 400, 'bad_request'],
    ['the admin area in capitals gets its checks', 'both', { method => 'GET', path => '/api/v1/demo/ADMIN/users', headers => [$bearer] }, 403, 'insufficient_scope'],
    ['the step-up area in mixed case gets its checks', 'both', { method => 'GET', path => '/api/v1/demo/Sensitive/report', headers => [$bearer] }, 401, 'insufficient_user_authentication'],
    ['the step-up area without its slash gets its checks', 'both', { method => 'GET', path => '/api/v1/demo/sensitive', headers => [$bearer] }, 401, 'insufficient_user_authentication'],
    ['a blank Content-Encoding line, then gzip: the service sees neither', 'raw', raw_head('POST /api/v1/demo/notes HTTP/1.1', $bearer, $json, $origin, 'Content-Encoding:', 'Content-Encoding: gzip', 'Content-Length: 12') . "\r\n" . '{"text":"x"}', 201],
    ['an encoded slash in the query is fine', 'both', { method => 'GET', path => "$demo?next=%2F..%2Fx", headers => [$bearer] }, 200],
    ['a gzip body to the demo service', 'both', { method => 'POST', path => '/api/v1/demo/notes', headers => [$bearer, $json, $origin, 'Content-Encoding: gzip'], body => "\x1f\x8b" }, 415, 'unsupported_media_type'],
    ['a brotli body to the public service', 'both', { method => 'POST', path => '/api/v1/public/x', headers => [$json, 'Content-Encoding: br'], body => 'x' }, 415, 'unsupported_media_type'],
    ['a chunked login body', 'raw', raw_head('POST /api/v1/auth/login HTTP/1.1', $json, $origin, 'Transfer-Encoding: chunked') . "\r\n"
        . sprintf("%x\r\n%s\r\n0\r\n\r\n", length(encode_json({ email => "$user\@example.com", password => 'wrong' })), encode_json({ email => "$user\@example.com", password => 'wrong' })), 401, 'invalid_credentials'],
    # --- JSON bodies
    ['nested 8 deep (the bound)', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '{"email":"n@example.com","password":"x","x":' . nested(6) . '}' }, 401, 'invalid_credentials'],
    ['nested 9 deep', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '{"email":"n@example.com","password":"x","x":' . nested(8) . '}' }, 400, 'invalid_request'],
    ['nested 10,000 deep', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => nested(10_000) }, 400, 'invalid_request'],
    ['10,000 open brackets', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '[' x 10_000 }, 400, 'invalid_request'],
    ['a body of 64 KiB (the bound)', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => sub { $padded->(64 * 1024, $_[0]) } }, 201],
    ['a body of 64 KiB + 1', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => $padded->(64 * 1024 + 1) }, 413, 'payload_too_large'],
    ['a body of 1 MiB', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => $big->(1 << 20) }, 413, 'payload_too_large'],
    ['duplicate member names', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => qq({"email":"$user\@example.com","email":"other\@example.com","password":"x"}) }, 400, 'invalid_request'],
    ['invalid UTF-8 in a string', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => qq({"email":"u\xff\@example.com","username":"u\xc0\x80","password":"$password"}) }, 400, 'invalid_request'],
    ['a NUL byte in the body', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => qq({"email":"a\0\@example.com","password":"x"}) }, 400, 'invalid_request'],
    ['\\u0000 in the e-mail', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => qq({"email":"a\\u0000b\@example.com","username":"nul$$","password":"$password"}) }, 400, 'validation_failed'],
    ['CR/LF in the username', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => signup_body(username => "a\r\nX-User-Role: admin") }, 400, 'validation_failed'],
    ['a number of 10,000 digits', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '{"email":' . ('9' x 10_000) . ',"password":"x"}' }, 400, 'invalid_request'],
    ['1e999999', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '{"email":"a@example.com","password":"x","n":1e999999}' }, 400, 'invalid_request'],
    ['a JSON array, not an object', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => '["email","password"]' }, 400, 'invalid_request'],
    ['an e-mail of 255 bytes', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => signup_body(email => $big->(64) . '@' . join('.', ($big->(60, 'd')) x 3) . '.example.co') }, 400, 'validation_failed'],
    ['a password of 513 bytes', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => encode_json({ email => "$user\@example.com", password => $big->(513) }) }, 400, 'validation_failed'],
    ['a refresh token of 129 bytes', 'both', { method => 'POST', path => '/api/v1/auth/refresh', headers => [$json, $origin, 'Cookie: __Secure-spa_rt=' . $big->(129)], body => '{}' }, 401, 'invalid_token'],
    # --- SQL and HTML where people put names
    ['HTML in the e-mail', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => signup_body(email => '<script>alert(1)</script>@example.com') }, 400, 'validation_failed',
     sub { unlike($_[0]{body}, qr/<script/i, 'the refusal does not echo the markup') }],
    ['HTML in the username', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => signup_body(username => '<img src=x onerror=alert(1)>') }, 400, 'validation_failed',
     sub { unlike($_[0]{body}, qr/<img/i, 'the refusal does not echo the markup') }],
    ['SQL in the username', 'both', { method => 'POST', path => '/api/v1/auth/signup', headers => [$json, $origin], body => signup_body(username => "x'); DROP TABLE users;--") }, 400, 'validation_failed'],
    # A login does not say whether an address could exist: it is wrong.
    ['SQL in the login e-mail', 'both', { method => 'POST', path => '/api/v1/auth/login', headers => [$json, $origin], body => encode_json({ email => "' OR '1'='1", password => "' OR '1'='1" }) }, 401, 'invalid_credentials'],
    # --- WebSocket upgrades
    ['an upgrade without a token', 'h1', { method => 'GET', path => '/ws/echo', headers => ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', $origin] }, 401, 'missing_token'],
    ['an upgrade with a 7 KiB subprotocol token', 'h1', { method => 'GET', path => '/ws/echo', headers => ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', $origin, 'Sec-WebSocket-Protocol: bearer, ' . $big->(7 * 1024)] }, 401, 'invalid_token'],
);

my $n = 0;
for my $row (@rows) {
    my ($name, $how, $req, $status, $code, $more) = @$row;
    my @ways = $how eq 'both' ? ('h1', 'h2') : ($how);
    for my $way (@ways) {
        ++$n;
        my %r = ref $req ? %$req : ();
        $r{body} = $r{body}->($way) if ref $r{body} eq 'CODE';
        my $res = $way eq 'raw' ? raw_req($req) : curl_req(%r, proto => $way);
        my $what = "$name ($way)";
        is($res->{status}, $status, "$what: $status") or diag(substr($res->{body}, 0, 300));
        if (defined $code) {
            my $j = eval { decode_json($res->{body}) } // {};
            is($j->{error}{code}, $code, "$what: code $code");
            like($res->{headers}{'content-type'}[0] // '', qr{^application/json}, "$what: the JSON envelope");
        }
        $more->($res) if $more;
    }
}
note("$n requests");

step 'SQL and HTML that are valid come back as the same string, JSON-escaped' => sub {
    # RFC 5322 allows ' & * = in a local part; what is stored is the string
    # the client sent, and JSON text never holds a raw '<', '>' or '&'.
    my $email = "o'brien&co+x=1$$\@example.com";
    my $jar = "$tmp/jar2";
    $r = $s->api(POST => '/api/v1/auth/signup', { email => $email, username => "obrien$$", password => $password }, jar => $jar);
    is($r->{status}, 201, 'an e-mail with quote and ampersand signs up') or diag($r->{body});
    $r = $s->api(POST => '/api/v1/auth/login', { email => $email, password => $password }, jar => $jar);
    is($r->{status}, 200, 'and logs in with the same string');
    $r = $s->api(GET => '/api/v1/auth/me', undef, jar => $jar);
    is($r->{json}{data}{user}{email} // $r->{json}{data}{email}, $email, '/me answers the address as sent');
    unlike($r->{body}, qr/&/, 'the ampersand is escaped in the JSON text');
    like($r->{body}, qr/\\u0026/, 'as \\u0026');
    is($r->{headers}{'x-content-type-options'}[0], 'nosniff', 'and the browser is told not to sniff it');
};

step 'nothing died' => sub {
    my $log = $s->log_text('error.log');
    unlike($log, qr/exited on signal/, 'no nginx worker exited on a signal');
    unlike($log, qr/\[(alert|emerg)\]/, 'no alert in the error log');
    is($s->browse(GET => "$base/api/v1/auth/jwks.json")->{status}, 200, 'spa-authd still answers');
    is(curl_req(proto => 'h2', method => 'GET', path => $demo, headers => [$bearer])->{status}, 200, 'the token still works');
    my $authd = $s->log_text('authd.log');
    unlike($authd, qr/route_exception|internal_error/, 'spa-authd raised no exception');
    unlike($authd . $log, qr/\Q$password\E/, 'no password in any log');
};

done_testing();
