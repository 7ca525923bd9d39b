# Rate limits in shared memory, end to end: the sixth login inside 15
# minutes is 429 with a correct Retry-After; per-user keys after the token
# is verified; dry_run; one zone for two workers; a reload keeps the state;
# a full zone evicts the least recently used key; metrics.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

data_dir();
my $p2 = SpaAuth::Test::free_port();
sub conf {
    my ($login_key) = @_;
    return (
        workers => 2,
        http_config => qq{
            spa_auth_jwks_file \@DATA\@/jwks.json;
            spa_auth_limit_zone $login_key zone=login:1m rate=5/15m;
            spa_auth_limit_zone \$spa_auth_sub zone=peruser:1m rate=2/1h;
            spa_auth_limit_zone \$binary_remote_addr zone=watch:1m rate=1/1h;
            spa_auth_limit_zone \$http_x_key zone=tiny:32k rate=1/1h;
            spa_auth_limit_zone \$binary_remote_addr zone=shared:1m rate=20/1h;
            server {
                listen 127.0.0.1:$p2 reuseport;
                location = /t { spa_auth_limit zone=shared; add_header X-Worker \$pid always; alias \@DIR\@/html/t; }
            }
        },
        config => q{
            # Not `return`: it answers in the rewrite phase, before any limit (as with limit_req).
            location = /login { spa_auth_limit zone=login; add_header X-Worker $pid always; alias @DIR@/html/t; }
            location /api/ { spa_auth on; spa_auth_limit zone=peruser; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
            location = /watch { spa_auth_limit zone=watch dry_run; alias @DIR@/html/t; }
            location = /tiny { spa_auth_limit zone=tiny; alias @DIR@/html/t; }
            location /metrics { spa_auth_status; add_header X-Worker $pid always; }
        },
    );
}
my ($ok, $out) = start_nginx(conf('$binary_remote_addr'));
ok($ok, 'nginx starts with five zones and two workers') or BAIL_OUT($out);

sub get { my ($path, @h) = @_; http_request("GET $path", join("\n", @h)) }
sub h { my ($r, $name) = @_; $r->{headers}{lc $name}[0] // '' }
sub metric {
    my ($name) = @_;
    my ($v) = get('/metrics')->{body} =~ /^\Q$name\E (\d+)$/m;
    return $v;
}

step 'five logins per 15 minutes' => sub {
    for my $i (1 .. 5) {
        my $r = get('/login');
        is($r->{status}, 200, "login $i: 200");
        is(h($r, 'RateLimit'), '"login";r=' . (5 - $i) . ';t=' . (180 * $i), "login $i: RateLimit says what is left");
    }
    my $sixth = get('/login');
    is($sixth->{status}, 429, 'the sixth login inside 15 minutes: 429');
    my $retry = h($sixth, 'Retry-After');
    ok($retry >= 179 && $retry <= 180, "Retry-After $retry: when the next one may pass (one every 3 minutes)");
    is(h($sixth, 'RateLimit-Policy'), '"login";q=5;w=900', 'RateLimit-Policy');
    like(h($sixth, 'RateLimit'), qr/^"login";r=0;t=(179|180)$/, 'RateLimit: none left');
    is(h($sixth, 'Cache-Control'), 'no-store', 'not cached');
    is(eval { decode_json($sixth->{body})->{error}{code} }, 'rate_limited', 'JSON envelope with code rate_limited');
    like(SpaAuth::Test::error_log_text(), qr/\[warn\].*rate limited by zone "login", retry after 1[78]\ds.*client: 127\.0\.0\.1/,
         'refusal logged with the client address');
};

step 'per user, after the token is verified' => sub {
    my $alice = mint(claims => { sub => 'alice' });
    my $bob = mint(claims => { sub => 'bob' });
    my $r = get('/api/x', "Authorization: Bearer $alice");
    is($r->{status}, 200, 'alice 1: 200 from the upstream');
    like($r->{body}, qr/^sub=/m, 'the upstream answered');
    is(h($r, 'RateLimit'), '"peruser";r=1;t=1800', 'RateLimit on a proxied response (full again in 30 minutes)');
    is(get('/api/x', "Authorization: Bearer $alice")->{status}, 200, 'alice 2: 200');
    $r = get('/api/x', "Authorization: Bearer $alice");
    is($r->{status}, 429, 'alice 3: 429 (2 per hour per user)');
    is(h($r, 'Retry-After'), 1800, 'Retry-After 1800');
    is(get('/api/x', "Authorization: Bearer $bob")->{status}, 200, 'bob, same address: 200 (his own bucket)');
    $r = get('/api/x', 'Authorization: Bearer not.a.token');
    is($r->{status}, 401, 'a bad token: 401');
    is(h($r, 'RateLimit'), '', 'not counted against anyone');
};

step 'dry_run counts and logs, never refuses' => sub {
    is(get('/watch')->{status}, 200, 'dry_run 1') for 1 .. 3;
    my @would = SpaAuth::Test::error_log_text() =~ /zone "watch" would refuse this request \(dry_run\)/g;
    is(scalar @would, 2, 'dry_run: the two over the limit are logged');
};

step 'one zone for both workers' => sub {
    my (%workers, %status);
    for (1 .. 30) {
        my $x = http_request('GET /t', '', port => $p2);
        $workers{ h($x, 'X-Worker') }++;
        $status{ $x->{status} }++;
    }
    is($status{200}, 20, 'two workers together let exactly 20 through');
    is($status{429}, 10, 'and refuse the other 10');
    is(scalar(keys %workers), 2, 'both workers answered') or diag(explain \%workers, \%status);
};

step 'a full zone drops the least recently used key' => sub {
    my $capacity = metric('spa_auth_limit_capacity{zone="tiny"}');
    ok($capacity > 100 && $capacity < 300, "a 32k zone holds $capacity keys");
    my @filled = grep { get('/tiny', "X-Key: k$_")->{status} == 200 } 0 .. $capacity;  # one more than fits
    is(scalar @filled, $capacity + 1, 'every new key passes, one more than the zone holds');
    is(metric('spa_auth_limit_evictions_total{zone="tiny"}'), 1, 'one eviction');
    is(get('/tiny', "X-Key: k$capacity")->{status}, 429, 'the newest key is still held');
    is(get('/tiny', 'X-Key: k1')->{status}, 429, 'so is the second oldest');
    is(get('/tiny', 'X-Key: k0')->{status}, 200, 'the oldest was dropped: a fresh bucket');
};

step 'metrics' => sub {
    is(metric('spa_auth_limit_requests_total{zone="login",result="limited"}'), 1, 'metrics: one login refused');
    is(metric('spa_auth_limit_requests_total{zone="login",result="allowed"}'), 5, 'five allowed');
    is(metric('spa_auth_limit_requests_total{zone="watch",result="limited"}'), 2, 'dry_run refusals counted');
};

step 'nginx -s reload keeps the state; a new key expression starts afresh' => sub {
    sub reload {
        my (%c) = @_;
        my $dir = SpaAuth::Test::prefix();
        write_file("$dir/conf/nginx.conf", SpaAuth::Test::nginx_conf(%c));
        my %old = map { $_ => 1 } grep { length } map { h(get('/login'), 'X-Worker') } 1 .. 4;
        open my $fh, '<', "$dir/logs/nginx.pid" or die;
        chomp(my $master = <$fh>);
        kill 'HUP', $master;
        for (1 .. 200) {
            my $w = h(get('/metrics'), 'X-Worker') || h(get('/login'), 'X-Worker');
            last if $w && !$old{$w};
            sleep 0.05;
        }
        sleep 0.3;  # the old workers finish
    }
    reload(conf('$binary_remote_addr'));
    is(get('/login')->{status}, 429, 'after nginx -s reload: still refused (state kept)');
    like(SpaAuth::Test::error_log_text(), qr/spa_auth_limit_zone "login": \d+ keys, state kept/, 'and nginx says so');
    reload(conf('$binary_remote_addr$http_x_nothing'));
    is(get('/login')->{status}, 200, 'after a reload that changed the key: a fresh zone');
};


stop_nginx();
unlike(SpaAuth::Test::error_log_text(), qr/\[(error|alert|crit|emerg)\]/, 'no errors logged');
done_testing();
