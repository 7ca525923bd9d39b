# One slow peer stalls nothing (docs/authd.md "Concurrency"): an OpenID
# provider whose token endpoint never answers gets more callbacks than
# calls_per_provider, and more logins arrive at once than the Argon2 queue
# holds. The excess are answered at once with 503 and Retry-After (a shed
# callback keeps its state), and while every hung call is still held open
# at the provider — none has ended, by its own count — refresh, logout,
# /me and the keys answer 200.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::HungProvider;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my $calls = 4;       # [oauth] calls_per_provider
my $callbacks = 80;  # more than the 64 threads spa-authd used to have in all
my $logins = 40;

my $op = SpaAuth::HungProvider->start;
SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $port = SpaAuth::Test::port();
write_file("$dir/client-secret", "hung secret\n");
chmod 0600, "$dir/client-secret" or die;
# Slow hashes (t=64: about a second each here) keep the first logins busy
# while the rest arrive; a long call_timeout keeps the hung calls open
# until the test releases them.
start_authd(mode => 'bearer', extra => <<"TOML");
[password]
argon2_iterations = 64
queue = 2
queue_timeout = "60s"
[oauth]
calls_per_provider = $calls
call_timeout = "30s"
[oauth.hung]
client_id = "spa-test"
client_secret_file = "$dir/client-secret"
redirect_uri = "https://localhost/api/v1/oauth/hung/callback"
discovery = "$op->{issuer}/.well-known/openid-configuration"
TOML
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'upstream authd { server unix:@DIR@/authd.sock; }',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://authd; }
               location = /metrics { proxy_pass http://authd; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

my ($user, @sessions);
my ($state, %answers, %callback_of, @cb, @login, @pending);
step 'two sessions to use while everything else hangs' => sub {
    $user = { email => 'quick@example.com', username => 'quick', password => 'quick password 1' };
    is(json_request(POST => '/api/v1/auth/signup', $user)->{status}, 201, 'sign-up');
    @sessions = map { json_request(POST => '/api/v1/auth/login', { email => $user->{email}, password => $user->{password} })->{json}{data} }
                   1 .. 2;
    ok($sessions[0]{refresh_token} && $sessions[1]{access_token}, 'two sessions');
};

step 'raw connections: the request is sent, the answer read later' => sub {
    sub send_raw {
        my ($text) = @_;
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 10) or die "connect: $!";
        syswrite $s, $text;
        return $s;
    }
    # Reads whole answers (nginx closes each) until `want` sockets have one or
    # a generous bound (a minute) passes; returns {socket => answer}.
    sub collect {
        my ($socks, $want) = @_;
        my %buf = map { $_ => '' } @$socks;
        my %done;
        my $sel = IO::Select->new(@$socks);
        for (1 .. 600) {
            last if keys %done >= $want;
            for my $s ($sel->can_read(0.1)) {
                if (sysread $s, my $chunk, 65536) { $buf{$s} .= $chunk; next }
                $sel->remove($s);
                $done{$s} = parse($buf{$s});
            }
        }
        return %done;
    }
    sub parse {
        my ($raw) = @_;
        my ($head, $body) = split /\r\n\r\n/, $raw, 2;
        my ($status) = ($head // '') =~ m{^HTTP/1\.\d (\d+)};
        my %h;
        for (split /\r\n/, $head // '') { $h{lc $1} = $2 if /^([^:]+):\s*(.*)$/ }
        return { status => $status // 0, headers => \%h, json => eval { decode_json($body) } // {} };
    }
    sub code_of { my ($r) = @_; "$r->{status} " . ($r->{json}{error}{code} // '') }
};

step 'logins under way at the provider: /start, then the callback' => sub {
    for my $i (1 .. $callbacks) {
        my $r = http_request('GET /api/v1/oauth/hung/start');
        my ($state) = ($r->{headers}{location}[0] // '') =~ /[?&]state=([^&]+)/;
        my ($binding) = map { /^__Secure-spa_oauth=([^;]+)/ ? $1 : () } @{ $r->{headers}{'set-cookie'} // [] };
        push @pending, { state => $state, binding => $binding } if $r->{status} == 303 && $state && $binding;
    }
    is(scalar @pending, $callbacks, "$callbacks logins started (discovery answered, then cached)");
    sub callback_request {
        my ($p, $i) = @_;
        return "GET /api/v1/oauth/hung/callback?code=c$i&state=$p->{state} HTTP/1.1\r\nHost: localhost\r\n"
             . "Cookie: __Secure-spa_oauth=$p->{binding}\r\nConnection: close\r\n\r\n";
    }
    @cb = map { my $s = send_raw(callback_request($pending[$_], $_)); $callback_of{$s} = $_; $s } 0 .. $#pending;

    for (1 .. 600) {
        $state = $op->state;
        last if $state->{held} >= $calls;
        sleep 0.05;
    }
    is($state->{held}, $calls, "the provider holds $calls token requests, unanswered");
    %answers = collect(\@cb, $callbacks - $calls);
    is(scalar keys %answers, $callbacks - $calls, 'every other callback is answered while those hang');
    my @busy = grep { code_of($_) eq '503 provider_busy' && ($_->{headers}{'retry-after'} // '') eq '30' } values %answers;
    is(scalar @busy, $callbacks - $calls, '... with 503 provider_busy, Retry-After: 30 (the call timeout), in the envelope');
    $state = $op->state;
    is_deeply([@$state{qw(held closed token_requests)}], [$calls, 0, $calls],
              'the shed ones never reached the provider; the hung ones are still open');
};

step 'and logins more than the Argon2 slots and queue take' => sub {
    @login = map { my $b = encode_json({ email => $user->{email}, password => $user->{password} });
                      send_raw("POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
                               . "Content-Length: " . length($b) . "\r\nConnection: close\r\n\r\n$b") } 1 .. $logins;
};

step 'quick requests answer meanwhile' => sub {
    my $bearer = "Authorization: Bearer $sessions[1]{access_token}";
    my %quick = (
        refresh => json_request(POST => '/api/v1/auth/refresh', { refresh_token => $sessions[0]{refresh_token} }),
        me => json_request(GET => '/api/v1/auth/me', undef, $bearer),
        jwks => http_request('GET /api/v1/auth/jwks.json'),
        logout => json_request(POST => '/api/v1/auth/logout', { refresh_token => $sessions[1]{refresh_token} }, $bearer),
    );
    $state = $op->state;
    for my $name (sort keys %quick) { is($quick{$name}{status}, 200, "$name: 200 while the provider hangs") }
    is_deeply([@$state{qw(held closed)}], [$calls, 0], '... answered before any hung call ended');
    ok($quick{refresh}{json}{data}{refresh_token}, 'the refresh rotated');

    my %logged = collect(\@login, $logins);
    is(scalar keys %logged, $logins, 'every login is answered');
    my @shed = grep { code_of($_) eq '503 server_busy' } values %logged;
    my @in = grep { $_->{status} == 200 } values %logged;
    is(@shed + @in, $logins, 'each login signed in or was shed, nothing else');
    ok(@shed >= 1, 'logins past the Argon2 slots and queue are shed (' . scalar(@shed) . ' of them)');
    ok(@in >= 1, '... the others signed in');
    is(scalar(grep { ($_->{headers}{'retry-after'} // '') eq '1' } @shed), scalar @shed, '... each with Retry-After: 1');
    my $metrics = http_request('GET /metrics')->{body};
    like($metrics, qr/^spa_authd_argon2_shed_total ${\ scalar @shed}$/m, 'metrics count the shed logins');
    like($metrics, qr/^spa_authd_provider_shed_total\{provider="hung"\} ${\ ($callbacks - $calls)}$/m, '... and callbacks');
    like($metrics, qr/^spa_authd_provider_calls\{provider="hung"\} $calls$/m, '... and the calls in flight');
};

step 'the provider answers at last (with an error)' => sub {
    $op->release;
    my @hung = grep { !$answers{$_} } @cb;
    my %ended = collect(\@hung, $calls);
    is(scalar(grep { $_->{status} == 303 && $_->{headers}{location} eq '/login?error=provider_error' } values %ended), $calls,
       'the hung callbacks end on the login page once the provider answers');
    # A shed callback kept its state: sent again, it reaches the provider.
    my ($shed_one) = grep { $answers{$_} && code_of($answers{$_}) eq '503 provider_busy' } @cb;
    my $i = $callback_of{$shed_one};
    my %retry = collect([send_raw(callback_request($pending[$i], $i))], 1);
    my ($r) = values %retry;
    is("$r->{status} $r->{headers}{location}", '303 /login?error=provider_error', 'a shed callback, sent again, is exchanged (not invalid_state)');
    is($op->state->{token_requests}, $calls + 1, '... at the provider');
    %retry = collect([send_raw(callback_request($pending[$i], $i))], 1);
    ($r) = values %retry;
    is($r->{headers}{location}, '/login?error=invalid_state', '... and is spent after that');

    stop_authd('TERM');
};

stop_nginx();
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nothing alarming in nginx');
done_testing();
