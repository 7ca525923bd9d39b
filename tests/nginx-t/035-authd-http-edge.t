# spa-authd's HTTP edge (docs/authd.md, "The HTTP edge"), with raw
# requests on its Unix socket: what an HTTP library might do with a request
# and authd never needs — content codings, ranges, multipart and form
# bodies, transfer codings and trailers, Expect, request smuggling,
# header counts, path and query tricks, percent-decoded header values,
# methods — is refused before the body is read, or ignored. Then through
# the shipped nginx config: Content-Encoding is 415 at nginx, and Range,
# If-Range and Content-Encoding never reach spa-authd.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use IO::Compress::Deflate qw(deflate $DeflateError);
use IO::Compress::Gzip qw(gzip $GzipError);
use IO::Select;
use IO::Socket::UNIX;
use JSON::PP;
use Test::More;

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $pid = start_authd(mode => 'both');
my $sock = "$dir/authd.sock";

# One connection: send the bytes, read until spa-authd closes.
sub exchange {
    my ($bytes) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $sock) or die "connect: $!";
    my $sel = IO::Select->new($s);
    my $got = '';
    syswrite($s, $bytes);
    while ($sel->can_read(15)) {
        my $n = sysread($s, my $buf, 65536);
        last unless $n;
        $got .= $buf;
    }
    close $s;
    return $got;
}

sub parse {
    my ($raw) = @_;
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    my @lines = split /\r\n/, $head // '';
    my ($status) = (shift(@lines) // '') =~ m{^HTTP/1\.1 (\d{3})};
    my %h;
    for (@lines) { my ($k, $v) = /^([^:]+):\s*(.*)$/ or next; push @{ $h{lc $k} }, $v }
    return { status => $status // 0, headers => \%h, body => $body // '', raw => $raw,
             json => eval { decode_json($body // '') } // {} };
}

sub raw { parse(exchange(@_)) }

# A request from parts: method, target, header lines, body; Host is added
# unless `nohost`, Content-Length only when `length` says so.
sub req {
    my ($line, $headers, $body, %o) = @_;
    my $r = "$line\r\n";
    $r .= "Host: localhost\r\n" unless $o{nohost};
    $r .= "$_\r\n" for @{ $headers // [] };
    $r .= "Content-Length: " . length($body // '') . "\r\n" if $o{length};
    return "$r\r\n" . ($body // '');
}

sub code_of { my ($r) = @_; "$r->{status} " . ($r->{json}{error}{code} // '') }

sub healthy { raw(req('GET /health HTTP/1.1'))->{status} == 200 }

sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; <$fh> // '' }

sub peak_kib {
    open my $fh, '<', "/proc/$pid/status" or return 0;
    while (<$fh>) { return $1 if /^VmHWM:\s+(\d+) kB/ }
    return 0;
}

my $login_json = encode_json({ email => 'edge@example.com', password => 'edge password 1' });
my $json = 'Content-Type: application/json';

# A user and an access token, for the routes that need one.
my $r = raw(req('POST /api/v1/auth/signup HTTP/1.1', [$json],
                encode_json({ email => 'edge@example.com', username => 'edge', password => 'edge password 1' }), length => 1));
is($r->{status}, 201, 'sign-up over the socket');
$r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json], $login_json, length => 1));
is($r->{status}, 200, 'login over the socket');
my $token = $r->{json}{data}{access_token};
ok($token, 'an access token');
is(raw(req('GET /api/v1/auth/me HTTP/1.1', ["Authorization: Bearer $token"]))->{status}, 200, 'the token works');

step '1. Content codings: refused before the body is read or decoded' => sub {
    {
        # 32 MiB of zeros in 32 KiB of gzip: inside the 64 KiB body limit, and a
        # library that inflates request bodies would hold all of it.
        my $zeros = "\0" x (32 * 1024 * 1024);
        gzip(\$zeros => \my $gz) or die $GzipError;
        deflate(\$zeros => \my $df) or die $DeflateError;
        undef $zeros;
        cmp_ok(length $gz, '<', 64 * 1024, 'the gzip bomb is under the body limit');
        my $before = peak_kib();
        for my $case (['gzip', $gz], ['deflate', $df], ['br', "\x1b\xff\xff\x07" . ("\0" x 200)],
                      ['GZIP', $gz], ['identity', $login_json], ['x-unknown', $login_json], ['gzip, br', $gz]) {
            my ($coding, $body) = @$case;
            $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, "Content-Encoding: $coding"], $body, length => 1));
            is(code_of($r), '415 unsupported_media_type', "Content-Encoding: $coding: 415 in the envelope");
            is($r->{headers}{'accept-encoding'}[0], 'identity', "$coding: Accept-Encoding: identity says what is accepted");
        }
        cmp_ok(peak_kib() - $before, '<', 16 * 1024, 'no body was inflated: peak memory did not grow by the bomb');
        # Refused on the head alone: the body is never waited for.
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Content-Encoding: br', 'Content-Length: 60000']));
        is(code_of($r), '415 unsupported_media_type', 'a coded body is refused before it is sent');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Content-Encoding:'], $login_json, length => 1));
        is(code_of($r), '415 unsupported_media_type', 'an empty Content-Encoding is refused too');
        ok(healthy(), 'spa-authd is healthy after the bombs');
    }
};

step '2. Range and If-Range are ignored: the whole representation, 200' => sub {
    {
        my $full = raw(req('GET /api/v1/auth/jwks.json HTTP/1.1'));
        is($full->{status}, 200, 'JWKS without Range');
        # 2000 overlapping ranges in 6 KB of header: an HTTP library that
        # serves them answers the body 2000 times over.
        my $ranges = 'bytes=' . join(',', ('0-') x 2000);
        for my $case (['2000 overlapping ranges', "Range: $ranges"], ['Range: bytes=0-0'], ['Range: bytes=5-1'],
                      ['Range: garbage'], ['Range: bytes=0-0', 'If-Range: "x"']) {
            my $name = $case->[0] =~ /^Range/ ? "@$case" : shift @$case;
            $r = raw(req('GET /api/v1/auth/jwks.json HTTP/1.1', $case));
            is($r->{status}, 200, "$name: 200") or diag(substr($r->{raw}, 0, 300));
            is($r->{body}, $full->{body}, "$name: the whole body, once");
            ok(!$r->{headers}{'content-range'}, "$name: no Content-Range");
        }
        $r = raw(req('HEAD /health HTTP/1.1', ['Range: bytes=0-0']));
        ok($r->{status} == 200 && !$r->{headers}{'accept-ranges'}, 'HEAD: 200, and no Accept-Ranges: bytes');
    }
};

step '3. Bodies are JSON: multipart and form bodies are not parsed, they are refused' => sub {
    for my $type ('multipart/form-data; boundary=b', 'application/x-www-form-urlencoded', 'text/plain') {
        my $body = $type =~ /multipart/
            ? "--b\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\nedge\@example.com\r\n--b--\r\n"
            : 'email=edge%40example.com&password=edge+password+1';
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', ["Content-Type: $type"], $body, length => 1));
        is(code_of($r), '415 unsupported_media_type', "Content-Type $type: 415");
    }
    is(code_of(raw(req('POST /api/v1/auth/login HTTP/1.1', [], $login_json, length => 1))), '415 unsupported_media_type',
       'a body without Content-Type: 415');
    is(raw(req('POST /api/v1/auth/login HTTP/1.1', ['Content-Type: application/json; charset=utf-8'], $login_json, length => 1))->{status},
       200, 'application/json with a charset: accepted');
};

step '4. Expect: 100-continue only once the head is accepted' => sub {
    {
        my $head = req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Expect: 100-continue', 'Content-Length: ' . length $login_json]);
        my $interim = '';
        my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $sock) or die;
        syswrite($s, $head);
        IO::Select->new($s)->can_read(5) and sysread($s, $interim, 4096);
        like($interim, qr{^HTTP/1\.1 100 Continue\r\n\r\n}, 'Expect: 100-continue: 100 before the body');
        syswrite($s, $login_json);
        my $rest = '';
        while (IO::Select->new($s)->can_read(15)) { my $n = sysread($s, my $b, 65536); last unless $n; $rest .= $b }
        close $s;
        is(parse($rest)->{status}, 200, 'then the answer to the whole request');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Expect: 100-continue', 'Content-Encoding: gzip', 'Content-Length: 100']));
        is(code_of($r), '415 unsupported_media_type', 'a refused head gets its refusal, not 100');
        unlike($r->{raw}, qr{100 Continue}, 'and no 100 Continue');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Expect: 200-ok'], $login_json, length => 1));
        is(code_of($r), '417 expectation_failed', 'another expectation: 417');
    }
};

step '5. Transfer codings, trailers and smuggling: framing by one Content-Length' => sub {
    {
        my $chunked = sprintf("%x\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n", length $login_json, $login_json);
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Transfer-Encoding: chunked'], $chunked));
        is(code_of($r), '411 length_required', 'chunked body with trailers: 411, nothing read');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Transfer-Encoding: gzip, chunked'], $chunked));
        is(code_of($r), '411 length_required', 'Transfer-Encoding: gzip, chunked: 411');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Transfer-Encoding: chunked', 'Content-Length: 4'], $chunked));
        is(code_of($r), '400 invalid_request', 'Transfer-Encoding with Content-Length: 400');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Content-Length: 4', 'Transfer-Encoding: chunked'], $chunked));
        is(code_of($r), '400 invalid_request', 'Content-Length with Transfer-Encoding: 400');
        for my $cl (['Content-Length: 2', 'Content-Length: 2'], ['Content-Length: 2', 'Content-Length: 5'],
                    ['Content-Length: 2, 2'], ['Content-Length: +2'], ['Content-Length: 0x2'], ['Content-Length : 2']) {
            $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, @$cl], '{}'));
            is(code_of($r), '400 invalid_request', "@$cl: 400");
        }
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Content-Length: 70000']));
        is(code_of($r), '413 payload_too_large', 'a body over 64 KiB is refused on its Content-Length, unread');
        $r = raw(req('POST /api/v1/auth/login HTTP/1.1', [$json, 'Content-Length: 2000000']));
        is(code_of($r), '413 payload_too_large', 'over the HTTP parser\'s own 1 MiB too: 413, not a parser error');
        # A second request in the same connection (pipelined, or a GET's body
        # an HTTP library left unread) is never parsed.
        my $inner = "GET /api/v1/auth/smuggled-pipelined HTTP/1.1\r\nHost: localhost\r\n\r\n";
        my $raw = exchange(req('GET /health HTTP/1.1') . $inner);
        my @answers = $raw =~ m{^HTTP/1\.1 \d{3}}mg;
        is(scalar @answers, 1, 'pipelined: one answer, then the connection closes');
        my $in_body = "GET /api/v1/auth/smuggled-in-body HTTP/1.1\r\nHost: localhost\r\n\r\n";
        $r = raw(req('GET /health HTTP/1.1', [], $in_body, length => 1));
        is(code_of($r), '400 invalid_request', 'a GET with a body: 400');
        $r = raw(req('POST /api/v1/auth/logout HTTP/1.1', [$json, 'Content-Length: 0'], $in_body));
        ok($r->{status} && $r->{raw} !~ /smuggled/, 'bytes after a POST body are not a request');
        unlike(authd_log(), qr/smuggled/, 'no smuggled request reached a route or the log');
        # Line endings and field syntax as RFC 9112 has them.
        is(code_of(raw("GET /health HTTP/1.1\r\nHost: localhost\nTransfer-Encoding: chunked\r\n\r\n")), '400 invalid_request',
           'a bare LF in the head: 400');
        is(code_of(raw("GET /health HTTP/1.1\r\nHost: localhost\r\nX-A: a\x01b\r\n\r\n")), '400 invalid_request',
           'a control character in a field value: 400');
    }
};

step '6. Bounds: field count, head size, request line' => sub {
    {
        my @many = map { "X-F$_: v" } 1 .. 99;
        is(raw(req('GET /health HTTP/1.1', \@many))->{status}, 200, '100 field lines (Host and 99): accepted');
        is(code_of(raw(req('GET /health HTTP/1.1', [@many, 'X-F100: v']))), '431 request_header_fields_too_large',
           '101 field lines: 431');
        is(code_of(raw(req('GET /health HTTP/1.1', ['X-Big: ' . ('a' x (70 * 1024))]))), '431 request_header_fields_too_large',
           'a head over 64 KiB: 431');
        is(code_of(raw(req('GET /health?' . ('a' x 9000) . ' HTTP/1.1'))), '414 uri_too_long', 'a target over 8 KiB: 414');
        is(code_of(raw(req('GET /health HTTP/1.1', [], undef, nohost => 1))), '400 invalid_request', 'HTTP/1.1 without Host: 400');
        is(code_of(raw(req('GET /health HTTP/1.1', ['Host: other']))), '400 invalid_request', 'two Hosts: 400');
        is(code_of(raw(req('GET /api/v1/auth/me HTTP/1.1', ["Authorization: Bearer $token", 'Authorization: Bearer x']))),
           '400 invalid_request', 'two Authorization lines: 400');
    }
};

step '7. Paths: only canonical ones reach a route; nothing is decoded' => sub {
    for my $target ('/api/v1/auth/../admin/users', '/api/v1/auth/%2e%2e/admin/users', '//api/v1/auth/me',
                    '/api/v1//auth/me', '/api/v1/admin%2Fusers', '/api/v1/auth/m%65', '/api/v1/auth/me/',
                    '/api/v1/auth/./me', '/api/v1/auth/me;x', 'http://localhost/api/v1/auth/me', '*') {
        $r = raw(req("GET $target HTTP/1.1", ["Authorization: Bearer $token"]));
        is(code_of($r), '400 invalid_request', "GET $target: 400");
    }
    is(raw(req('GET /api/v1/admin/users HTTP/1.1', ["Authorization: Bearer $token"]))->{status}, 403,
       'the canonical admin path reaches its route (403: not an admin)');
    # Queries: each name once (after decoding), no ';', strict escapes.
    for my $q ('redirect_to=/a&redirect_to=//evil', 'redirect_to=/a&%72edirect_to=//evil', 'x=1;redirect_to=//evil',
               'redirect_to=%zz', 'redirect_to=%0d%0a') {
        is(code_of(raw(req("GET /api/v1/oauth/test/start?$q HTTP/1.1"))), '400 invalid_request', "query $q: 400");
    }
};

step '8. Header values are read as sent: no percent-decoding' => sub {
    {
        is(raw(req('GET /api/v1/auth/me HTTP/1.1', ["Cookie: __Host-spa_at=$token"]))->{status}, 200, 'the access cookie');
        is(code_of(raw(req('GET /api/v1/auth/me HTTP/1.1', ["Cookie: __Host-spa%5Fat=$token"]))), '401 invalid_token',
           '__Host-spa%5Fat is not our cookie');
        is(code_of(raw(req('GET /api/v1/auth/me HTTP/1.1', ["Cookie: x=%3B%20__Host-spa_at%3D$token"]))), '401 invalid_token',
           'an encoded "; __Host-spa_at=" inside another cookie injects nothing');
        is(code_of(raw(req('POST /api/v1/auth/logout HTTP/1.1', ['Origin: https%3A%2F%2Fapp.example.com', 'Content-Length: 0']))),
           '403 origin_not_allowed', 'an encoded Origin is not the allowed one');
    }
};

step '9. Methods: five; the rest 405 (with Allow) or 501' => sub {
    {
        $r = raw(req('HEAD /health HTTP/1.1'));
        ok($r->{status} == 200 && $r->{body} eq '' && $r->{headers}{'content-length'}[0] > 0, 'HEAD: the GET answer without a body');
        for my $m ('OPTIONS /api/v1/auth/login', 'OPTIONS *', 'TRACE /health', 'PUT /api/v1/auth/login', 'CONNECT localhost:443') {
            $r = raw(req("$m HTTP/1.1"));
            is(code_of($r), '405 method_not_allowed', "$m: 405") or diag($r->{raw});
            is($r->{headers}{allow}[0], 'GET, HEAD, POST, PATCH, DELETE', "$m: Allow");
        }
        is(code_of(raw(req('FOO /health HTTP/1.1'))), '501 not_implemented', 'an unknown method: 501');
        is(raw("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")->{status}, 505, 'the HTTP/2 preface: 505');
        is(code_of(raw(req('GET /health HTTP/1.2'))), '505 http_version_not_supported', 'HTTP/1.2: 505');
    }
    ok(healthy(), 'spa-authd is healthy after all of it');
    is(raw(req('POST /api/v1/auth/login HTTP/1.1', [$json], $login_json, length => 1))->{status}, 200, 'and logs in');
    stop_authd();
};

step 'Through the shipped nginx config' => sub {
    my $s = SpaAuth::Shipped::start();
    ok($s->{nginx_ok}, 'shipped nginx.conf starts') or BAIL_OUT($s->{nginx_t});
    my $base = $s->{base};
    my $full = $s->browse(GET => "$base/api/v1/auth/jwks.json");
    is($full->{status}, 200, 'JWKS through nginx');
    for my $h (['Range: bytes=0-0,0-0,0-0'], ['Range: bytes=0-0', 'If-Range: "x"']) {
        $r = $s->browse(GET => "$base/api/v1/auth/jwks.json", headers => $h);
        is($r->{status}, 200, "@$h through nginx: 200");
        is($r->{body}, $full->{body}, "@$h: the whole body");
    }
    for my $path ('/api/v1/auth/login', '/api/v1/admin/users/0123456789abcdef0123456789abcdef') {
        my $method = $path =~ /admin/ ? 'PATCH' : 'POST';
        $r = $s->browse($method => "$base$path", headers => ['Content-Type: application/json', "Origin: $s->{origin}",
                                                             'Content-Encoding: br'], data => "\x1b\xff\xff\x07");
        is(code_of($r), '415 unsupported_media_type', "$method $path with Content-Encoding: 415 at nginx");
    }
    # An empty first Content-Encoding line passes nginx's check: no line of it
    # reaches spa-authd, which reads the plain body.
    $r = $s->browse(POST => "$base/api/v1/auth/login",
                    headers => ['Content-Type: application/json', "Origin: $s->{origin}", 'Content-Encoding;', 'Content-Encoding: br'],
                    data => encode_json({ email => 'nobody@example.com', password => 'not the password' }));
    is(code_of($r), '401 invalid_credentials', 'Content-Encoding lines are not forwarded to spa-authd');
    $s->stop;
};

done_testing();
