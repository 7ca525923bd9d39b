# A full store refuses what would grow it with 503 store_full (the JSON
# envelope), and still takes every revocation: after the store is full, a
# logout makes the module refuse the token at once. The size is reported
# in /metrics and warned about once at 80 %. And it recovers when given
# room (a larger [store] max_size and a restart, docs/authd.md "Size"):
# sign-ups and rotations succeed again, nothing stored before is lost, and
# revocations, old and new, still take effect at the module.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $toml = authd_toml(mode => 'bearer');
$toml =~ s/(\[store\]\npath = [^\n]*\n)/$1max_size = "1MiB"\n/ or die;
start_authd(toml => $toml);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => '
        spa_auth_jwks_file @DIR@/authd/jwks.json;
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;',
    config => '
        location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
        location = /metrics { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
        location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub svc { http_request('GET /svc/x', "Authorization: Bearer $_[0]")->{status} }
sub login {
    my ($name) = @_;
    json_request(POST => '/api/v1/auth/login', { email => "$name\@example.com", password => "$name password!" });
}
for my $name (qw(alice bob)) {
    is(json_request(POST => '/api/v1/auth/signup',
                    { email => "$name\@example.com", username => $name, password => "$name password!" })->{status},
       201, "$name signs up");
}
my $alice = login('alice')->{json}{data};
is(svc($alice->{access_token}), 200, 'alice passes the module');

# Fill the store: rotate bob's refresh token until authd says it is full.
my $rt = login('bob')->{json}{data}{refresh_token};
my ($r, $rotations);
for $rotations (1 .. 20000) {
    $r = json_request(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
    last if $r->{status} != 200;
    $rt = $r->{json}{data}{refresh_token};
}
is(error_of($r), '503 store_full', "the store fills up (after some rotations): 503 store_full");
is($r->{json}{success}, JSON::PP::false, 'in the JSON envelope');
is(error_of(login('alice')), '503 store_full', 'a login is refused while full');
is(error_of(json_request(POST => '/api/v1/auth/signup',
                         { email => 'carol@example.com', username => 'carol', password => 'carol password!' })),
   '503 store_full', 'a sign-up too');

# The revocation still lands, and the module sees it on the next request.
is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $alice->{access_token}")->{status}, 200,
   'logout works in a full store');
is(svc($alice->{access_token}), 401, 'the module refuses the logged-out token');
is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $alice->{access_token}")->{status}, 401,
   'and authd too');

my $m = http_request('GET /metrics')->{body};
my ($used) = $m =~ /^spa_authd_store_used_bytes (\d+)$/m;
my ($max) = $m =~ /^spa_authd_store_max_bytes (\d+)$/m;
is($max, 1048576, 'metrics: spa_authd_store_max_bytes');
ok($used && $used > $max, "metrics: spa_authd_store_used_bytes ($used) past max");

stop_authd();
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
my @warned = $log =~ /"event":"store_nearly_full"/g;
is(scalar @warned, 1, 'the 80 % warning is logged once');
my @full = $log =~ /"event":"store_full"/g;
is(scalar @full, 1, 'store_full is logged once, not per request');

step 'room given: max_size raised, spa-authd restarted' => sub {
    $toml =~ s/max_size = "1MiB"/max_size = "8MiB"/ or die;
    start_authd(toml => $toml);
    is(json_request(POST => '/api/v1/auth/signup',
                    { email => 'carol@example.com', username => 'carol', password => 'carol password!' })->{status},
       201, 'a sign-up succeeds again');
    is(login('carol')->{status}, 200, 'and that user logs in');
    my $r = json_request(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
    is($r->{status}, 200, "bob's refresh token, refused while full, rotates now");
    my $bob = $r->{json}{data};
    is(svc($bob->{access_token}), 200, 'and his new access token passes');
    is(login('alice')->{status}, 200, 'alice, stored before the store filled, logs in');
    is(svc($alice->{access_token}), 401, 'her session logged out while full stays refused');
    is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $bob->{access_token}")->{status}, 200,
       'a new logout');
    is(svc($bob->{access_token}), 401, 'takes effect at the module at once');
    my $m2 = http_request('GET /metrics')->{body};
    my ($max2) = $m2 =~ /^spa_authd_store_max_bytes (\d+)$/m;
    is($max2, 8 * 1048576, 'metrics: the new max');
    stop_authd();
};
done_testing();
