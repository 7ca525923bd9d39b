# docs/openapi.yaml against the code: (a) every route of authd/routes.cc's
# kRoutes table is documented with its method and path (a regex group is a
# {param}, whose schema pattern is the group), and nothing documented is
# missing from the table; (b) every documented operation, called bare
# (no token, no cookie, no Origin, no body) on a running spa-authd's socket,
# is answered by a route (not the "no such endpoint" 404) with a status the
# document lists for it, and an error code that response lists; (c) every
# error code the document names is one of authd/errors.cc (those of the
# HTTP edge, authd/http_edge.cc and http_server.cc, only in the ErrorCode
# list), and that list has every code of errors.cc; and against the shipped
# conf/nginx.conf: every operation but the internal ones is proxied to
# spa-authd, and its x-rate-limit-zones are the zones that count it.
# Also: the security schemes name spa-authd's cookies, and an operation
# marked x-recent-authentication lists reauthentication_required.
#
# SPA_OPENAPI=FILE checks another file (to see this test fail on a
# document with a route removed or added).
#
# The document's validity as OpenAPI 3.1 is checked by a validator from
# npm: @apidevtools/swagger-parser, one of tests/peers' packages (make deps
# installs it); SPA_OPENAPI_VALIDATOR may name another directory holding it.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Cwd ();
use IO::Socket::UNIX;
use JSON::PP;
use Test::More;
use YAML::XS ();

my $doc_file = $ENV{SPA_OPENAPI} // 'docs/openapi.yaml';
my $doc = YAML::XS::LoadFile($doc_file);
is($doc->{openapi}, '3.1.0', "$doc_file: OpenAPI 3.1.0");

SKIP: {
    my $v = $ENV{SPA_OPENAPI_VALIDATOR} // 'tests/peers';
    skip "no \@apidevtools/swagger-parser in $v/node_modules (make deps installs it)", 1
        unless -d "$v/node_modules/\@apidevtools/swagger-parser";
    my $script = 'const p = require(process.argv[1] + "/node_modules/@apidevtools/swagger-parser");'
               . 'p.validate(process.argv[2]).then(() => process.exit(0), e => { console.error(e.message); process.exit(1); });';
    my $dir = Cwd::abs_path($v);
    my $out = `node -e '$script' '$dir' '$doc_file' 2>&1`;
    ok($? == 0, "$doc_file is valid OpenAPI (swagger-parser)") or diag($out);
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

# A local $ref ("#/components/...") resolved, repeatedly.
sub resolve {
    my ($node) = @_;
    for (1 .. 10) {
        last unless ref $node eq 'HASH' && defined $node->{'$ref'};
        my $ref = $node->{'$ref'};
        $ref =~ m{^#/(.+)$} or die "not a local \$ref: $ref";
        $node = $doc;
        for my $part (split m{/}, $1) {
            $part =~ s/~1/\//g;
            $part =~ s/~0/~/g;
            $node = $node->{$part} // die "\$ref $ref: no $part";
        }
    }
    return $node;
}

my %METHODS = map { $_ => 1 } qw(get post put patch delete head options trace);

# --- the operations of the document: "METHOD template" => {path, op}
my %documented;
for my $path (sort keys %{ $doc->{paths} }) {
    for my $method (sort keys %{ $doc->{paths}{$path} }) {
        next unless $METHODS{$method};
        (my $template = $path) =~ s/\{\w+\}/{}/g;
        $documented{ uc($method) . " $template" } = { path => $path, method => $method, op => $doc->{paths}{$path}{$method} };
    }
}

# --- (a) the table of authd/routes.cc
my $routes_cc = slurp('authd/routes.cc');
my ($table) = $routes_cc =~ /const Route kRoutes\[\] = \{(.*?)\n\};/s or die 'no kRoutes table in authd/routes.cc';
my %routed;
while ($table =~ /\{&http::Server::(\w+),\s*(?:R"\((.*?)\)"|"([^"]*)"),\s*[\w:]+\}/g) {
    my ($method, $pattern) = (uc $1, $2 // $3);
    my @groups;
    (my $template = $pattern) =~ s/\(([^()]*)\)/push @groups, $1; '{}'/ge;
    $routed{"$method $template"} = \@groups;
}
my $rows = () = $table =~ /\{&http::Server::/g;
is(scalar(keys %routed), $rows, "every row of kRoutes read ($rows)");
cmp_ok($rows, '>=', 30, 'the table is not empty');

for my $route (sort keys %routed) {
    my $d = $documented{$route};
    ok($d, "route $route is documented") or next;
    # The parameters in the path, in order, with the group as their pattern.
    my @names = $d->{path} =~ /\{(\w+)\}/g;
    my %params = map { my $p = resolve($_); ($p->{in} eq 'path' ? ($p->{name} => $p) : ()) }
                 @{ $d->{op}{parameters} // [] }, @{ $doc->{paths}{ $d->{path} }{parameters} // [] };
    for my $i (0 .. $#names) {
        my $p = $params{ $names[$i] };
        ok($p && $p->{required}, "$route: path parameter {$names[$i]} is declared, required") or next;
        is($p->{schema}{pattern}, "^$routed{$route}[$i]\$", "$route: {$names[$i]} has the route's pattern");
    }
}
for my $op (sort keys %documented) {
    ok($routed{$op}, "documented $op is a route of authd/routes.cc");
}

# --- (c) error codes
my $errors_cc = slurp('authd/errors.cc');
my %errc = map { $_ => 1 } $errors_cc =~ /return \{\d{3}, "([a-z_]+)"\}/g;
cmp_ok(scalar(keys %errc), '>=', 30, 'authd/errors.cc read');
my %edge = map { $_ => 1 } (slurp('authd/http_edge.cc') . slurp('authd/http_server.cc')) =~ /\b\d{3}, "([a-z_]+)"/g;
$edge{$_} = 1 for slurp('authd/server.cc') =~ /send_error\(req, res, res\.status, "([a-z_]+)"/g;
cmp_ok(scalar(keys %edge), '>=', 10, 'the HTTP edge codes read');

my %named;  # code => where
sub walk {
    my ($node, $where) = @_;
    if (ref $node eq 'HASH') {
        for my $k (sort keys %$node) {
            if ($k =~ /^x-.*error-codes$/) {
                ok(ref $node->{$k} eq 'ARRAY' && @{ $node->{$k} }, "$where: $k is a list") or next;
                push @{ $named{$_} }, $where for @{ $node->{$k} };
            } else {
                walk($node->{$k}, "$where/$k");
            }
        }
    } elsif (ref $node eq 'ARRAY') {
        walk($node->[$_], "$where/$_") for 0 .. $#$node;
    }
}
walk($doc, '#');
cmp_ok(scalar(keys %named), '>=', 30, 'the document names error codes');
for my $code (sort keys %named) {
    ok($errc{$code}, "error code $code (at $named{$code}[0]) is in authd/errors.cc");
}
my @enum = @{ $doc->{components}{schemas}{ErrorCode}{enum} // [] };
my %enum = map { $_ => 1 } @enum;
for my $code (sort keys %errc) {
    ok($enum{$code}, "ErrorCode lists $code of authd/errors.cc");
}
for my $code (@enum) {
    ok($errc{$code} || $edge{$code}, "ErrorCode's $code is in authd/errors.cc or the HTTP edge");
}

# Rate-limit zones: the ones conf/nginx.conf defines; every operation
# nginx proxies names its zones, the internal ones none.
my %zones = map { $_ => 1 } slurp('conf/nginx.conf') =~ /spa_auth_limit_zone \S+ zone=(\w+):/g;
for my $op (sort keys %documented) {
    my $o = $documented{$op}{op};
    ok(defined $o->{summary} && length $o->{summary}, "$op has a summary");
    ok(ref $o->{security} eq 'ARRAY', "$op says its security");
    if ($o->{'x-recent-authentication'}) {
        my $r401 = resolve($o->{responses}{401} // {});
        ok((grep { $_ eq 'reauthentication_required' } @{ $r401->{'x-error-codes'} // [] }),
           "$op needs a recent authentication: its 401 lists reauthentication_required");
    }
    if ($o->{'x-internal'}) {
        ok(!$o->{'x-rate-limit-zones'}, "$op is internal: not proxied, no zone");
        next;
    }
    my $z = $o->{'x-rate-limit-zones'};
    ok(ref $z eq 'ARRAY' && @$z, "$op names its rate-limit zones") or next;
    ok($zones{$_}, "$op: zone $_ is defined in conf/nginx.conf") for @$z;
}

# The cookies of the security schemes are spa-authd's (authd/routes_api.h).
my $routes_api_h = slurp('authd/routes_api.h');
for ([accessCookie => 'kAccessCookie'], [refreshCookie => 'kRefreshCookie'], [oauthBinding => 'kOAuthCookie']) {
    my ($scheme, $constant) = @$_;
    my ($name) = $routes_api_h =~ /\b\Q$constant\E = "([^"]+)"/ or die "no $constant";
    is($doc->{components}{securitySchemes}{$scheme}{name}, $name, "security scheme $scheme is the cookie $name");
}

# --- the shipped conf/nginx.conf: which location nginx picks for each
# operation's path (exact, then the longest prefix unless it is ^~, then
# the regexes in order), whether it proxies to spa-authd, and which of its
# zones count the request (a zone keyed by a map counts only when the map
# gives the path a non-empty key): exactly the x-rate-limit-zones.
my $nginx_conf = slurp('conf/nginx.conf');
my %zone_key = $nginx_conf =~ /spa_auth_limit_zone (\S+) zone=(\w+):/g;
%zone_key = reverse %zone_key;
my %maps;  # variable => [[kind, pattern, value], ...]
while ($nginx_conf =~ /\bmap \$uri \$(\w+) \{(.*?)\}/gs) {
    my ($var, $body) = ($1, $2);
    for (split /\n/, $body) {
        my ($k, $v) = /^\s*(\S+)\s+(\S+);/ or next;
        $v = '' if $v eq '""';
        push @{ $maps{$var} }, $k eq 'default' ? ['default', '', $v] : $k =~ /^~(.*)$/ ? ['regex', $1, $v] : ['exact', $k, $v];
    }
}
sub map_value {
    my ($var, $uri) = @_;
    my @e = @{ $maps{$var} // die "no map \$$var" };
    for (grep { $_->[0] eq 'exact' } @e) { return $_->[2] if $_->[1] eq $uri }
    for (grep { $_->[0] eq 'regex' } @e) { return $_->[2] if $uri =~ /$_->[1]/ }
    for (grep { $_->[0] eq 'default' } @e) { return $_->[2] }
    return '';
}
my @locations;  # {kind => '='|'^~'|''|'~', match, body}
{
    my ($server) = $nginx_conf =~ /\n    server \{\n(.*)\n    \}\n\}/s or die 'no server block';
    while ($server =~ /^        location (?:(=|\^~|~)\s+)?(\S+) \{\n(.*?)^        \}$/gms) {
        push @locations, { kind => $1 // '', match => $2, body => $3 };
    }
}
cmp_ok(scalar(@locations), '>=', 10, 'conf/nginx.conf: locations read');
sub location_for {
    my ($uri) = @_;
    for (grep { $_->{kind} eq '=' } @locations) { return $_ if $_->{match} eq $uri }
    my ($prefix) = sort { length $b->{match} <=> length $a->{match} }
                   grep { ($_->{kind} eq '' || $_->{kind} eq '^~') && index($uri, $_->{match}) == 0 } @locations;
    return $prefix if $prefix && $prefix->{kind} eq '^~';
    for (grep { $_->{kind} eq '~' } @locations) { return $_ if $uri =~ /$_->{match}/ }
    return $prefix;
}
sub example_path {
    my ($d) = @_;
    (my $path = $d->{path}) =~ s{\{(\w+)\}}{
        my $name = $1;
        my ($p) = grep { $_->{name} eq $name } map { resolve($_) } @{ $d->{op}{parameters} // [] };
        $p && defined $p->{example} ? $p->{example} : die "$d->{path}: no example for {$name}";
    }ge;
    return $path;
}
for my $op (sort keys %documented) {
    my $d = $documented{$op};
    my $uri = example_path($d);
    my $loc = location_for($uri);
    my $proxied = $loc && $loc->{body} =~ /^\s*proxy_pass http:\/\/spa_authd;/m;
    if ($d->{op}{'x-internal'}) {
        ok(!$proxied, "$op is internal: conf/nginx.conf does not proxy $uri to spa-authd");
        next;
    }
    ok($proxied, "$op: conf/nginx.conf proxies $uri to spa-authd") or next;
    my @counting = grep {
        my $key = $zone_key{$_} // '';
        $key =~ /^\$(\w+)$/ && $maps{$1} ? map_value($1, $uri) ne '' : 1;
    } $loc->{body} =~ /^\s*spa_auth_limit zone=(\w+)/mg;
    is(join(' ', sort @counting), join(' ', sort @{ $d->{op}{'x-rate-limit-zones'} // [] }),
       "$op: x-rate-limit-zones are the zones nginx counts it in");
}

# --- (b) every operation, called bare on spa-authd's socket
SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
write_file("$dir/dev-secret", "dev secret\n");
chmod 0600, "$dir/dev-secret" or die;
my $closed = SpaAuth::Test::free_port();  # nothing listens: discovery fails at once
start_authd(mode => 'both', extra => <<"TOML");
[oauth.dev]
client_id = "spa"
client_secret_file = "$dir/dev-secret"
redirect_uri = "https://app.example.com/api/v1/oauth/dev/callback"
discovery = "http://127.0.0.1:$closed/.well-known/openid-configuration"
TOML

sub call {
    my ($method, $path) = @_;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => "$dir/authd.sock") or die "connect: $!";
    my $raw = "$method $path HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    $raw .= "Content-Length: 0\r\n" unless $method eq 'GET';
    print $s "$raw\r\n";
    local $/;
    my $resp = <$s> // '';
    close $s;
    my ($head, $body) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{^HTTP/1\.1 (\d{3})};
    return { status => $status // 0, body => $body // '', json => eval { decode_json($body // '') } // {} };
}

for my $op (sort keys %documented) {
    my $d = $documented{$op};
    my $r = call(uc $d->{method}, example_path($d));
    my $route_not_found = $r->{status} == 404 && ($r->{json}{error}{message} // '') eq 'no such endpoint';
    ok(!$route_not_found && $r->{status}, "$op: answered by a route ($r->{status})") or next;
    my $response = $d->{op}{responses}{ $r->{status} };
    ok($response, "$op: $r->{status} is a documented status (" . join(' ', sort keys %{ $d->{op}{responses} }) . ')') or next;
    $response = resolve($response);
    if ($r->{status} >= 400) {
        my $code = $r->{json}{error}{code} // '';
        ok((grep { $_ eq $code } @{ $response->{'x-error-codes'} // [] }),
           "$op: $r->{status} $code is a code that response lists");
    } elsif ($r->{json}{meta}) {
        is($r->{json}{success}, JSON::PP::true, "$op: a success envelope");
    }
}

done_testing();
