# An OpenID provider that breaks, in each place the login needs it —
# discovery (on /start), the token endpoint and the JWKS (on /callback) —
# and in each way a peer breaks: HTTP 500, half a JSON answer and then
# the connection closed (with and without a Content-Length), an answer of
# 1 MiB (over the 256 KiB bound), and a peer that takes the request and
# says nothing (bounded by [oauth] call_timeout). For each, the browser
# ends on the SPA's login page, /login?error=provider_unavailable (the
# documented code for "the provider gave no usable answer: try again
# later", docs/authd.md "OAuth / OpenID Connect"), with no session cookie;
# spa-authd logs one oauth_failed line naming the provider and what went
# wrong (never the code or the client secret); nothing of a login is
# stored (no user, identity, session; the state is spent). While a call
# hangs, by the provider's own count, other requests are answered.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::BrokenProvider;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my $op = SpaAuth::BrokenProvider->start;
SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $port = SpaAuth::Test::port();
write_file("$dir/client-secret", "broken-provider-client-secret\n");
chmod 0600, "$dir/client-secret" or die;
my @faults = qw(500 cut short huge hang);
my @providers = map { my $w = $_; map { "$w$_" } @faults } qw(d t j);
# call_timeout: far longer than the requests made meanwhile take, so they
# are answered while the call is held.
my $toml = "[oauth]\ncall_timeout = \"8s\"\n";
for my $name (@providers) {
    $toml .= <<"TOML";
[oauth.$name]
client_id = "spa-test"
client_secret_file = "$dir/client-secret"
redirect_uri = "https://localhost/api/v1/oauth/$name/callback"
discovery = "$op->{root}/$name/.well-known/openid-configuration"
TOML
}
start_authd(mode => 'cookie', extra => $toml);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; scalar <$fh> }
sub failures_of {
    my ($name) = @_;
    grep { ($_->{event} // '') eq 'oauth_failed' && ($_->{provider} // '') eq $name }
        map { eval { decode_json($_) } // () } split /\n/, authd_log();
}
sub entries {
    my ($table) = @_;
    my ($n) = `mdb_stat -s $table $dir/authd/store/private 2>&1` =~ /Entries: (\d+)/;
    return $n // "unreadable: $table";
}
sub cookies { join ' ', map { /^([^=]+=[^;]*)/ } @{ $_[0]{headers}{'set-cookie'} // [] } }

# A request sent now, its answer read later (or never: the hung ones).
sub send_raw {
    my ($path, @headers) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10) or die "connect: $!";
    syswrite $s, "GET $path HTTP/1.1\r\nHost: localhost\r\n" . join('', map { "$_\r\n" } @headers) . "Connection: close\r\n\r\n";
    return $s;
}
# The whole answer, waiting at most `bound` seconds (undef: none came).
sub read_answer {
    my ($s, $bound) = @_;
    my $raw = '';
    my $sel = IO::Select->new($s);
    my $until = time + $bound;
    while (time < $until) {
        next unless $sel->can_read(0.1);
        my $n = sysread $s, my $chunk, 65536;
        last unless $n;
        $raw .= $chunk;
    }
    my ($head) = split /\r\n\r\n/, $raw, 2;
    return undef unless defined $head && $head =~ m{^HTTP/1\.\d (\d+)};
    my %h = (status => $1);
    for (split /\r\n/, $head) { push @{ $h{headers}{lc $1} }, $2 if /^([^:]+):\s*(.*)$/ }
    return \%h;
}
sub location { $_[0] ? "$_[0]{status} " . ($_[0]{headers}{location}[0] // '') : 'no answer' }

# What each fault says in the log line's detail.
my %detail = (
    500 => qr/HTTP 500/,
    cut => qr/JSON|json|parse|unexpected|end of input/i,
    short => qr/partial|Transferred/i,
    huge => qr/too large/,
    hang => qr/Timeout|timed out/i,
);
my %where = (d => qr/^discovery/, t => qr/^token (endpoint|response): /, j => qr/^(provider )?JWKS: /);

for my $name (@providers) {
    my ($w, $fault) = $name =~ /^(.)(.*)$/;
    step "$name: the " . { d => 'discovery document', t => 'token endpoint', j => 'JWKS' }->{$w} . " fails ($fault)" => sub {
        my ($answer, @lines);
        my $start = send_raw("/api/v1/oauth/$name/start");
        if ($w eq 'd') {
            if ($fault eq 'hang') {
                for (1 .. 250) { last if ($op->state->{held}{$name} // 0) >= 1; sleep 0.02 }
                is($op->state->{held}{$name}, 1, 'the provider holds the discovery request, unanswered');
                is(http_request('GET /api/v1/auth/jwks.json')->{status}, 200, '... meanwhile spa-authd answers others');
                is(json_request(POST => '/api/v1/auth/login', { email => 'x@example.com', password => 'wrong password!' })->{status},
                   401, '... a login too');
                is($op->state->{held}{$name}, 1, '... while the call is still held');
            }
            $answer = read_answer($start, 15);
            @lines = failures_of($name);
        } else {
            my $r = read_answer($start, 15);
            is($r->{status}, 303, '/start: discovery answers, off to the provider');
            my ($state) = ($r->{headers}{location}[0] // '') =~ /[?&]state=([^&]+)/;
            my ($binding) = map { /^__Secure-spa_oauth=([^;]+)/ ? $1 : () } @{ $r->{headers}{'set-cookie'} // [] };
            my $cb = send_raw("/api/v1/oauth/$name/callback?code=the-secret-code-$name&state=$state",
                              "Cookie: __Secure-spa_oauth=$binding");
            if ($fault eq 'hang') {
                for (1 .. 250) { last if ($op->state->{held}{$name} // 0) >= 1; sleep 0.02 }
                is($op->state->{held}{$name}, 1, 'the provider holds the call, unanswered');
                is(http_request('GET /api/v1/auth/jwks.json')->{status}, 200, '... meanwhile spa-authd answers others');
                is(json_request(POST => '/api/v1/auth/login', { email => 'x@example.com', password => 'wrong password!' })->{status},
                   401, '... a login too');
                is($op->state->{held}{$name}, 1, '... while the call is still held');
            }
            $answer = read_answer($cb, 15);
            @lines = failures_of($name);
            my $again = read_answer(send_raw("/api/v1/oauth/$name/callback?code=the-secret-code-$name&state=$state",
                                             "Cookie: __Secure-spa_oauth=$binding"), 10);
            is(location($again), '303 /login?error=invalid_state', 'the state was spent: the same callback again is refused');
        }
        is(location($answer), '303 /login?error=provider_unavailable', 'the browser lands on the login page with provider_unavailable');
        unlike(cookies($answer // {}), qr/spa_(rt|at)=\S/, '... and no session cookie');
        if ($fault eq 'hang') {
            # The provider sees the close in its own time: polled, bounded.
            for (1 .. 250) { last if ($op->state->{closed}{$name} // 0) >= 1; sleep 0.02 }
            is($op->state->{closed}{$name}, 1, 'the hung call was given up (closed at the provider) within call_timeout');
        }
        is(scalar @lines, 1, 'one oauth_failed line for this provider');
        is($lines[0]{reason}, 'provider_unavailable', '... with the reason');
        like($lines[0]{detail} // '', $where{$w}, '... saying which call');
        like($lines[0]{detail} // '', $detail{$fault}, '... and what went wrong') or diag($lines[0]{detail});
    };
}

step 'nothing of a login was stored, nothing secret was logged' => sub {
    is(entries($_), 0, "no $_") for qw(users identities sessions oauth_states);
    my $log = authd_log();
    unlike($log, qr/the-secret-code|broken-provider-client-secret/, 'neither a code nor the client secret in the log');
};

stop_authd("TERM");
stop_nginx();
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nothing alarming in nginx');
done_testing();
