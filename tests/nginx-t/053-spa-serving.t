# How the shipped conf/nginx.conf serves the demo SPA (built into
# build/spa by Vite): security headers on every answer, page routes are the
# app's index.html and never cached, hashed assets cached for a year, and
# nothing under /api/ (or a missing file) ever becomes the app. TLS below
# 1.2 is refused.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use Test::More;

my $s = SpaAuth::Shipped::start();
ok($s->{nginx_ok}, 'nginx starts with the shipped configuration') or BAIL_OUT($s->{nginx_t});
my $base = $s->{base};
my $index = do { local $/; open my $fh, '<', SpaAuth::Test::build_dir() . '/spa/index.html' or die "no built SPA: $!"; <$fh> };
my ($asset) = $index =~ m{src="(/assets/[^"]+\.js)"} or die 'no script in index.html';
my ($style) = $index =~ m{href="(/assets/[^"]+\.css)"} or die 'no stylesheet in index.html';

sub headers_ok {
    my ($r, $what) = @_;
    my $h = $r->{headers};
    my $csp = $h->{'content-security-policy'}[0] // '';
    like($csp, qr/default-src 'self'/, "$what: CSP default-src 'self'");
    like($csp, qr/$_/, "$what: CSP $_") for ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'", "script-src 'self';");
    unlike($csp, qr/unsafe-inline|unsafe-eval|\*|data:/, "$what: nothing unsafe in the CSP");
    like($h->{'strict-transport-security'}[0] // '', qr/^max-age=\d{8}/, "$what: HSTS");
    is($h->{'x-content-type-options'}[0], 'nosniff', "$what: nosniff");
    is($h->{'referrer-policy'}[0], 'no-referrer', "$what: Referrer-Policy");
    like($h->{'permissions-policy'}[0] // '', qr/camera=\(\)/, "$what: Permissions-Policy");
    is(scalar @{ $h->{'content-security-policy'} // [] }, 1, "$what: one CSP header");
}

for my $path ('/', '/login', '/reset-password', '/account', '/verify-email', '/index.html') {
    my $r = $s->browse(GET => "$base$path");
    is($r->{status}, 200, "$path is the app");
    is($r->{body}, $index, "$path: index.html");
    is($r->{headers}{'cache-control'}[0], 'no-cache', "$path: never served from a cache without asking");
    headers_ok($r, $path);
}
unlike($index, qr/<script>|<style>| style=| on[a-z]+=/i, 'index.html has no inline script, style or handler');

for my $file ($asset, $style) {
    my $r = $s->browse(GET => "$base$file");
    is($r->{status}, 200, "$file is served");
    is($r->{headers}{'cache-control'}[0], 'max-age=31536000', "$file: cached for a year (its name is its hash)");
    headers_ok($r, $file);
}
like($s->browse(GET => "$base$asset")->{headers}{'content-type'}[0], qr{javascript}, 'the script is JavaScript');

# Nothing that is not a page becomes the app: a missing file, an unknown
# asset, and every /api/ path answer 404 in the JSON envelope.
for my $path ('/nope.js', '/assets/missing.js', '/assets/', '/api/v1/nope', '/api/v1/auth/nope', '/api', '/api/',
              '/API/v1/demo/x', '/Login', '/login.', '/ws.js', '/.env', '/a/../api/v1/x') {
    my $r = $s->browse(GET => "$base$path", headers => ['Accept: text/html']);
    is($r->{status}, 404, "$path: 404");
    is($r->{json}{error}{code}, 'not_found', "$path: the JSON envelope, not the app");
    headers_ok($r, $path);
}
# A refusal is JSON whatever extension the path has.
for my $path ('/x.html', '/assets/x.js', '/x.svg', '/api/v1/x.css') {
    my $r = $s->browse(GET => "$base$path");
    is($r->{headers}{'content-type'}[0], 'application/json', "404 for $path is application/json");
}
my $post = $s->browse(POST => "$base/login", data => 'x');
is($post->{status}, 405, 'POST to a page route: 405');
is($post->{json}{error}{code}, 'method_not_allowed', '... in the envelope');
is($s->browse(POST => "$base$asset", data => 'x')->{status}, 405, 'POST to an asset: 405');

# An API answer carries the headers too.
my $api = $s->api(GET => '/api/v1/auth/me');
is($api->{status}, 401, 'the API without a session: 401');
headers_ok($api, '/api/v1/auth/me');

my $providers = $s->api(GET => '/api/v1/oauth/providers');
is($providers->{status}, 200, '/api/v1/oauth/providers is public');
is_deeply($providers->{json}{data}{providers}, [], 'no provider configured: an empty list');

# /api/docs/: docs/openapi.yaml as the file itself and rendered by
# swagger-ui-dist, under the same CSP but for data: images.
my $docs = $s->browse(GET => "$base/api/docs");
is($docs->{status}, 301, '/api/docs redirects');
is($docs->{headers}{location}[0], '/api/docs/', '... to /api/docs/, a path (absolute_redirect off: no Host header in it)');
$docs = $s->browse(GET => "$base/api/docs/");
is($docs->{status}, 200, '/api/docs/ is the reference page');
like($docs->{body}, qr{<script src="swagger-ui-bundle\.js"></script>}, 'swagger-ui from this origin, no CDN');
unlike($docs->{body}, qr/<script>|<style>| style=| on[a-z]+=|https?:/i, 'no inline script or style, no other origin');
my $dcsp = $docs->{headers}{'content-security-policy'}[0] // '';
is($dcsp =~ s/img-src 'self' data:;/img-src 'self';/r, $s->browse(GET => "$base/")->{headers}{'content-security-policy'}[0],
   "the app's CSP, but for img-src data:");
like($docs->{headers}{'strict-transport-security'}[0] // '', qr/^max-age=/, '/api/docs/: HSTS (add_header said again)');
is($docs->{headers}{'x-content-type-options'}[0], 'nosniff', '/api/docs/: nosniff');
my $yaml = $s->browse(GET => "$base/api/docs/openapi.yaml");
my $file = do { local $/; open my $fh, '<', 'docs/openapi.yaml' or die; <$fh> };
is($yaml->{body}, $file, '/api/docs/openapi.yaml is docs/openapi.yaml');
is($yaml->{headers}{'content-type'}[0], 'application/yaml', '... as application/yaml');
is($s->browse(POST => "$base/api/docs/", data => 'x')->{status}, 405, 'POST /api/docs/: 405');
is($s->browse(GET => "$base/api/docs/nope.js")->{status}, 404, 'a missing file under /api/docs/: 404');

# TLS: 1.2 and 1.3 only.
my $port = $s->{port};
for my $v (['-tls1_2', 1], ['-tls1_3', 1], ['-tls1_1', 0], ['-tls1', 0]) {
    my ($flag, $ok) = @$v;
    my $out = `echo | openssl s_client -connect 127.0.0.1:$port -servername localhost $flag 2>&1`;
    my $handshake = $out =~ /^New, TLSv1\.[23], Cipher is [A-Z]/m;
    is(!!$handshake, !!$ok, "TLS $flag " . ($ok ? 'accepted' : 'refused'));
}

done_testing();
