# The product limits of the shipped conf/nginx.conf, over HTTPS: five logins
# and sign-ups per 15 minutes per address, three password-reset requests per
# hour, the general and public API limits, and administration only from
# allowed addresses, limited per administrator.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Shipped;
use Test::More;

my $s = SpaAuth::Shipped::start();
ok($s->{nginx_ok}, 'shipped nginx.conf with its zones passes nginx -t and starts') or BAIL_OUT($s->{nginx_t});
sub h { my ($r, $name) = @_; $r->{headers}{lc $name}[0] // '' }

my ($r);
step 'logins and sign-ups share 5 per 15 minutes per address' => sub {
    $r = $s->api(POST => '/api/v1/auth/signup', { email => 'lim@example.com', username => 'lim', password => 'a long password 1' });
    is($r->{status}, 201, 'sign-up');
    like(join(', ', @{ $r->{headers}{ratelimit} // [] }), qr/"api";r=99;t=9\b.*"login";r=4;t=180/, 'counted by api and login zones');
    is($s->api(POST => '/api/v1/auth/login', { email => 'lim@example.com', password => 'wrong password 1' })->{status}, 401,
       "login $_ (wrong password)") for 2 .. 5;
    $r = $s->api(POST => '/api/v1/auth/login', { email => 'lim@example.com', password => 'a long password 1' });
    is($r->{status}, 429, 'the sixth inside 15 minutes: 429, even with the right password');
    my $retry = h($r, 'Retry-After');
    ok($retry >= 170 && $retry <= 180, "Retry-After $retry");
    is($r->{json}{error}{code}, 'rate_limited', 'JSON envelope, code rate_limited');
    is($s->api(POST => '/api/v1/auth/refresh')->{status} != 429, 1, 'other authd calls are not login-limited');
};

step 'password reset: 3 per hour' => sub {
    is($s->api(POST => '/api/v1/auth/password-reset/request', { email => 'x@example.com' })->{status}, 202, "reset request $_")
        for 1 .. 3;
    $r = $s->api(POST => '/api/v1/auth/password-reset/request', { email => 'x@example.com' });
    is($r->{status}, 429, 'the fourth within the hour: 429');
    ok(h($r, 'Retry-After') > 1190, 'Retry-After about 20 minutes (' . h($r, 'Retry-After') . ')');
};

step 'public API' => sub {
    $r = $s->browse(GET => "$s->{base}/api/v1/public/hello");
    is($r->{status}, 200, 'public API without a token');
    is(h($r, 'RateLimit-Policy'), '"public";q=50;w=900', 'with its policy');
};

step 'administration: allowlisted addresses, a token, a per-user limit' => sub {
    $r = $s->browse(GET => "$s->{base}/api/v1/admin/users");
    is($r->{status}, 401, 'admin API without a token: 401 from the module');
    my @from2 = ('curl', '-sk', '--interface', '127.0.0.2', '-o', '/dev/null', '-w', '%{http_code}',
                 "https://127.0.0.1:$s->{port}/api/v1/admin/users");
    my $code = `@from2`;
    is($code, '403', 'admin API from an address not on the allowlist (127.0.0.2): 403');
    like($s->log_text('error.log'), qr/access forbidden by rule, client: 127\.0\.0\.2/, 'refusal logged with the client address');
    $code = `curl -sk --interface 127.0.0.2 -o /dev/null -w '%{http_code}' https://127.0.0.1:$s->{port}/api/v1/demo/admin/x`;
    is($code, '403', 'the demo admin service too');
    is(`curl -sk --interface 127.0.0.2 -o /dev/null -w '%{http_code}' https://127.0.0.1:$s->{port}/spa-auth/status`, '403',
       'metrics only for loopback');
};

step 'metrics' => sub {
    $r = $s->browse(GET => "$s->{base}/spa-auth/status");
    is($r->{status}, 200, 'metrics from loopback');
    like($r->{body}, qr/^spa_auth_limit_requests_total\{zone="login",result="limited"\} 1$/m, 'one login refused');
    like($r->{body}, qr/^spa_auth_limit_requests_total\{zone="password_reset",result="limited"\} 1$/m, 'one reset refused');
    $s->stop;
};

done_testing();
