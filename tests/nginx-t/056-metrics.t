# Both parts' metrics through the shipped conf/nginx.conf: the module's
# spa_auth_status (/spa-auth/status) and spa-authd's /metrics
# (/spa-auth/authd-metrics), loopback only; each counter moves by what the
# traffic this test sends should make it move, and by nothing else.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use Test::More;
use Time::HiRes qw(sleep);

use File::Temp qw(tempdir);
my $secret_dir = tempdir('spa-metrics-XXXXXX', TMPDIR => 1, CLEANUP => 1);
open my $sfh, '>', "$secret_dir/client-secret" or die;
print $sfh "metrics secret\n";
close $sfh;
chmod 0600, "$secret_dir/client-secret" or die;
my $dead = SpaAuth::Test::free_port();  # nothing listens: discovery fails
my $s = SpaAuth::Shipped::start(
    many_requests => 1,
    authd_toml => <<"TOML",
[oauth.dead]
client_id = "spa-test"
client_secret_file = "$secret_dir/client-secret"
redirect_uri = "https://localhost/api/v1/oauth/dead/callback"
discovery = "http://127.0.0.1:$dead/.well-known/openid-configuration"
TOML
    # A spent refresh token is reuse one second later, not inside a grace window.
    before_authd => sub {
        my ($state) = @_;
        open my $in, '<', "$state/authd.toml" or die;
        local $/;
        my $toml = <$in>;
        close $in;
        $toml =~ s/^refresh_grace = "10s"/refresh_grace = "0s"/m or die 'no refresh_grace in authd.toml';
        open my $out, '>', "$state/authd.toml" or die;
        print $out $toml;
        close $out;
    });
ok($s->{authd_ok}, 'authd.toml passes --check-config') or diag($s->log_text('check.log'));
ok($s->{nginx_ok}, 'shipped nginx.conf starts') or BAIL_OUT($s->{nginx_t});
my $base = $s->{base};

# name{labels} -> value, from Prometheus text; every sample line must parse.
sub scrape {
    my ($path) = @_;
    my $r = $s->browse(GET => "$base$path");
    is($r->{status}, 200, "$path: 200 from loopback");
    like($r->{headers}{'content-type'}[0] // '', qr{^text/plain; version=0\.0\.4}, "$path: Prometheus text");
    my (%v, @bad, %typed);
    for my $line (split /\n/, $r->{body}) {
        if ($line =~ /^# TYPE (\S+) (counter|gauge|histogram)$/) { $typed{$1} = 1; next }
        next if $line =~ /^# HELP \S+ \S/;
        # A sample's value: an integer or a float, in exponent form too (8.7895e-05).
        if ($line =~ /^([a-z_][a-z0-9_]*)(\{.*\})? (-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)$/) {
            $v{ $1 . ($2 // '') } = $3;
            (my $family = $1) =~ s/_(bucket|sum|count)$//;
            push @bad, "untyped $line" unless $typed{$1} || $typed{$family};
            next;
        }
        push @bad, $line;
    }
    is_deeply(\@bad, [], "$path: every line is a HELP, a TYPE or a typed sample");
    return \%v;
}

# What moved between two scrapes (series absent before count from 0).
sub delta {
    my ($before, $after, $series) = @_;
    return ($after->{$series} // 0) - ($before->{$series} // 0);
}

sub moved {
    my ($before, $after, $expect, $what) = @_;
    for my $series (sort keys %$expect) {
        my $want = $expect->{$series};
        my $got = delta($before, $after, $series);
        if (ref $want) { ok($got >= $want->[0], "$what: $series moved by $got (at least $want->[0])") }
        else { is($got, $want, "$what: $series moved by $want") }
    }
}

step 'loopback only' => sub {
    for my $path ('/spa-auth/status', '/spa-auth/authd-metrics') {
        my $code = `curl -sk --interface 127.0.0.2 -o /dev/null -w '%{http_code}' https://127.0.0.1:$s->{port}$path`;
        is($code, '403', "$path from another address: 403");
    }
    my $post = $s->browse(POST => "$base/spa-auth/authd-metrics", data => 'x');
    is($post->{status}, 403, 'authd metrics: GET only');
    is($s->browse(GET => "$base/metrics")->{status} =~ /^(200|404)$/ ? 1 : 0, 1, '/metrics is not authd\'s');
    unlike($s->browse(GET => "$base/metrics")->{body}, qr/spa_authd_/, 'no spa-authd metric outside the location');
};

my ($m0, $a0) = (scrape('/spa-auth/status'), scrape('/spa-auth/authd-metrics'));
step 'every family is there before any traffic' => sub {
    ok(exists $m0->{"spa_auth_decisions_total{result=\"$_\"}"}, "decisions: $_ series")
        for qw(ok missing malformed bad_signature expired revoked store_unavailable forbidden mfa_required);
    ok(exists $m0->{"spa_auth_token_cache_total{result=\"$_\"}"}, "cache: $_") for qw(hit miss);
    ok(exists $m0->{"spa_auth_store_lookups_total{result=\"$_\"}"}, "store lookups: $_") for qw(valid revoked error);
    ok(exists $m0->{spa_auth_jwks_reloads_total} && exists $m0->{spa_auth_jwks_reload_failures_total}, 'JWKS reloads');
    ok(exists $m0->{'spa_auth_limit_requests_total{zone="login",result="allowed"}'}, 'limiter by zone');
    ok(exists $m0->{'spa_auth_websocket_closed_total{reason="session revoked"}'}, 'WebSockets closed by reason');
    ok(exists $a0->{"spa_authd_logins_total{outcome=\"$_\"}"}, "logins: $_") for qw(success mfa_required invalid_credentials account_locked);
    ok(exists $a0->{spa_authd_refresh_reuse_total} && exists $a0->{spa_authd_lockouts_total}, 'reuse and lockouts');
    ok(exists $a0->{'spa_authd_second_factor_total{method="totp",outcome="success"}'}, 'second factor by method');
    ok(exists $a0->{$_}, $_) for qw(spa_authd_store_used_bytes spa_authd_store_max_bytes spa_authd_store_map_bytes);
    ok(exists $a0->{'spa_authd_request_duration_seconds_count{method="POST",route="/api/v1/auth/login"}'},
       'latency histogram per route');
    ok(exists $a0->{'spa_authd_request_duration_seconds_bucket{method="DELETE",route="/api/v1/auth/sessions/{id}",le="+Inf"}'},
       'a route with a parameter is named by its pattern');
};

my ($at, $rt0);
step 'sign up, log in, use a service' => sub {
    is($s->api(POST => '/api/v1/auth/signup', { email => 'm@example.com', username => 'metrics', password => 'a long password 1' })->{status},
       201, 'signed up');
    is($s->api(POST => '/api/v1/auth/login', { email => 'm@example.com', password => 'a wrong password' })->{status}, 401, 'a wrong password');
    my $r = $s->api(POST => '/api/v1/auth/login', { email => 'm@example.com', password => 'a long password 1' });
    is($r->{status}, 200, 'logged in');
    $at = $s->cookie('__Host-spa_at');
    $rt0 = $s->cookie('__Secure-spa_rt');
    ok($at && $rt0, 'token cookies');
    my $m1 = scrape('/spa-auth/status');
    is($s->browse(GET => "$base/api/v1/demo/hello")->{status}, 200, 'a service, once') for 1 .. 3;
    is($s->browse(GET => "$base/api/v1/demo/hello", jar => '/dev/null')->{status}, 401, 'no token');
    is($s->browse(GET => "$base/api/v1/demo/hello", jar => '/dev/null', headers => ['Authorization: Bearer not.a.token'])->{status},
       401, 'a malformed token');
    my $m2 = scrape('/spa-auth/status');
    moved($m1, $m2, {
        'spa_auth_decisions_total{result="ok"}' => 3,
        'spa_auth_decisions_total{result="missing"}' => 1,
        'spa_auth_decisions_total{result="malformed"}' => 1,
        'spa_auth_token_cache_total{result="hit"}' => [2],
        'spa_auth_store_lookups_total{result="valid"}' => 3,
        'spa_auth_store_lookups_total{result="revoked"}' => 0,
        'spa_auth_limit_requests_total{zone="api",result="allowed"}' => 5,
    }, 'the module');
    is(delta($m1, $m2, 'spa_auth_token_cache_total{result="hit"}') + delta($m1, $m2, 'spa_auth_token_cache_total{result="miss"}'),
       4, 'every token checked counted once by the cache, the malformed one too (hit or miss)');
    my $a1 = scrape('/spa-auth/authd-metrics');
    moved($a0, $a1, {
        'spa_authd_logins_total{outcome="success"}' => 1,
        'spa_authd_logins_total{outcome="invalid_credentials"}' => 1,
        'spa_authd_lockouts_total' => 0,
        'spa_authd_request_duration_seconds_count{method="POST",route="/api/v1/auth/login"}' => 2,
        'spa_authd_request_duration_seconds_count{method="POST",route="/api/v1/auth/signup"}' => 1,
        'spa_authd_responses_total{status="201"}' => 1,
    }, 'spa-authd');
    ok(($a1->{'spa_authd_request_duration_seconds_sum{method="POST",route="/api/v1/auth/login"}'} // 0) > 0,
       'login time summed');
};

step 'refresh, reuse, revocation' => sub {
    my $a1 = scrape('/spa-auth/authd-metrics');
    my $m1 = scrape('/spa-auth/status');
    my $old = "$s->{state}/old-cookies.txt";
    system('cp', $s->{jar}, $old) == 0 or die;
    sleep 1.1;  # the next rotation is a second later: past the 0 s grace
    is($s->api(POST => '/api/v1/auth/refresh')->{status}, 200, 'refreshed');
    isnt($s->cookie('__Secure-spa_rt'), $rt0, 'a new refresh token');
    sleep 1.1;
    my $r = $s->api(POST => '/api/v1/auth/refresh', undef, jar => $old);
    is($r->{status}, 401, 'the spent refresh token again: refused') or diag($r->{body});
    is($s->browse(GET => "$base/api/v1/demo/hello", jar => '/dev/null', headers => ["Authorization: Bearer $at"])->{status},
       401, 'the session was ended: its access token is refused');
    my $a2 = scrape('/spa-auth/authd-metrics');
    my $m2 = scrape('/spa-auth/status');
    moved($a1, $a2, {
        'spa_authd_refreshes_total{outcome="success"}' => 1,
        'spa_authd_refreshes_total{outcome="invalid_token"}' => 1,
        'spa_authd_refresh_reuse_total' => 1,
    }, 'spa-authd');
    moved($m1, $m2, {
        'spa_auth_decisions_total{result="revoked"}' => 1,
        'spa_auth_store_lookups_total{result="revoked"}' => 1,
    }, 'the module');
};

step 'lockout, second factor, OAuth' => sub {
    my $a1 = scrape('/spa-auth/authd-metrics');
    for (1 .. 5) {
        $s->api(POST => '/api/v1/auth/login', { email => 'm@example.com', password => "wrong password $_" });
    }
    my $r = $s->api(POST => '/api/v1/auth/login', { email => 'm@example.com', password => 'a long password 1' });
    is($r->{status}, 423, 'locked');
    $r = $s->api(POST => '/api/v1/mfa/verify', { mfa_token => 'x' x 43, code => '123456' });
    is($r->{status}, 401, 'a second step with an mfa_token that is not one');
    $r = $s->browse(GET => "$base/api/v1/oauth/dead/start");
    is($r->{status}, 303, 'OAuth start with the provider down: a redirect back (303)');
    like($r->{headers}{location}[0] // '', qr/error=provider_unavailable/, '... naming the reason');
    is($s->browse(GET => "$base/api/v1/oauth/nosuch/start")->{status}, 404, 'an unknown provider: 404');
    my $a2 = scrape('/spa-auth/authd-metrics');
    moved($a1, $a2, {
        'spa_authd_logins_total{outcome="invalid_credentials"}' => 4,
        'spa_authd_logins_total{outcome="account_locked"}' => 2,
        'spa_authd_lockouts_total' => 1,
        'spa_authd_second_factor_total{method="unknown",outcome="invalid_token"}' => 1,
        'spa_authd_oauth_total{provider="dead",step="start",outcome="provider_unavailable"}' => 1,
    }, 'spa-authd');
    is(scalar(grep { /nosuch/ } keys %$a2), 0, 'a provider that is not configured makes no series');
};

step 'JWKS reload and failure' => sub {
    my $file = "$s->{state}/authd/jwks.json";
    open my $fh, '<', $file or die;
    my $good = do { local $/; <$fh> };
    close $fh;
    my $put = sub {
        my ($text) = @_;
        open my $out, '>', "$file.new" or die;
        print $out $text;
        close $out;
        rename "$file.new", $file or die;
    };
    my $m1 = scrape('/spa-auth/status');
    $put->('{"keys": [');
    sleep 1.2;  # the file is looked at once a second
    $s->browse(GET => "$base/api/v1/demo/hello");
    my $m2 = scrape('/spa-auth/status');
    ok(delta($m1, $m2, 'spa_auth_jwks_reload_failures_total') >= 1, 'a broken JWKS counted as a failed reload');
    is(delta($m1, $m2, 'spa_auth_jwks_reloads_total'), 0, '... and not as a reload');
    $put->($good . "\n");
    sleep 1.2;
    $s->browse(GET => "$base/api/v1/demo/hello");
    my $m3 = scrape('/spa-auth/status');
    ok(delta($m2, $m3, 'spa_auth_jwks_reloads_total') >= 1, 'the good file back: counted as a reload');
};

step 'contrib/: the alert rules and the dashboard name metrics that exist' => sub {
    my %families;
    for my $v (scrape('/spa-auth/status'), scrape('/spa-auth/authd-metrics')) {
        for my $series (keys %$v) {
            (my $name = $series) =~ s/\{.*//;
            $families{$name} = 1;
            $families{$1} = 1 if $name =~ /^(.*)_(bucket|sum|count)$/;
        }
    }
    for my $file ('contrib/prometheus/spa-auth-alerts.yml', 'contrib/grafana/spa-auth-dashboard.json') {
        open my $fh, '<', $file or die "$file: $!";
        my $text = do { local $/; <$fh> };
        my %named = map { $_ => 1 } $text =~ /(?<![\$\w])(spa_authd?_[a-z0-9_]+)/g;  # not $spa_auth_result
        ok(scalar(keys %named) >= 5, "$file names our metrics");
        is_deeply([grep { !$families{$_} } sort keys %named], [], "$file: every metric it names is scraped");
    }
    my $check = `cd contrib/prometheus && promtool check rules spa-auth-alerts.yml 2>&1`;
    is($?, 0, 'promtool check rules') or diag($check);
    my $test = `cd contrib/prometheus && promtool test rules spa-auth-alerts.test.yml 2>&1`;
    is($?, 0, 'promtool test rules: each alert fires on what should fire it') or diag($test);
    my $dash = eval { JSON::PP::decode_json(do { open my $fh, '<', 'contrib/grafana/spa-auth-dashboard.json' or die; local $/; <$fh> }) };
    ok($dash && @{ $dash->{panels} } >= 10, 'the dashboard is JSON with its panels');
};

$s->stop;
done_testing();
