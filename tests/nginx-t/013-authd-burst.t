# A burst of simultaneous connections through nginx reaches spa-authd
# without a single 502 (cpp-httplib's default backlog of 5 and 8 threads
# would drop some), and slow password checks share the load.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use POSIX ();

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    workers => 2,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json;
                    upstream authd { server unix:@DIR@/authd.sock; }',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://authd; }',
);
ok($ok, 'nginx starts') or diag($out);
http_request("POST /api/v1/auth/signup\n" . encode_json({ email => 'burst@example.com', username => 'burst', password => 'burst password 1' }),
             'Content-Type: application/json');

my @kids;
for my $i (1 .. 64) {
    my $pid = fork // die;
    if ($pid == 0) {
        # Every fourth client logs in (a slow Argon2 check); the others ask for the keys.
        my $r = $i % 4
            ? http_request('GET /api/v1/auth/jwks.json')
            : http_request("POST /api/v1/auth/login\n" . encode_json({ email => 'burst@example.com', password => 'burst password 1' }),
                           'Content-Type: application/json');
        POSIX::_exit($r->{status} == 200 ? 0 : 1);
    }
    push @kids, $pid;
}
my $failed = 0;
for (@kids) { waitpid($_, 0); $failed++ if $? }
is($failed, 0, '64 simultaneous requests, none failed');
stop_authd('TERM');
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
unlike($log, qr/backlog_not_widened/, 'listen backlog widened');
stop_nginx();
unlike(error_log_text(), qr/connect\(\) to unix:.*failed|\[(alert|crit|emerg)\]/, 'no failed upstream connects in nginx');
done_testing();
