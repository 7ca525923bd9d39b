# spa-authd publishes its signing keys where the module reads them, answers
# through nginx on its Unix socket, rotates keys without a reload, and
# stops cleanly on SIGTERM. Its config errors name the key and the line.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my $authd = build_dir() . '/spa-authd';

# --check-config
SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
write_file("$dir/bad.toml", qq{[tokens]\nissuer = "https://x"\naccess_ttl = "forever"\n\n[server]\nsockett = "/x"\n});
my $out = `$authd --check-config --config $dir/bad.toml 2>&1`;
isnt($? >> 8, 0, 'check-config fails on a bad file');
like($out, qr{bad\.toml:3: tokens\.access_ttl: must be a duration}, 'names the key and its line');
like($out, qr{bad\.toml:6: server\.sockett: unknown key}, 'unknown keys are errors');
$out = `$authd --check-config --config conf/authd.toml 2>&1`;
is($? >> 8, 0, 'the shipped conf/authd.toml passes') or diag($out);

# authd first: nginx needs its JWKS at startup.
start_authd();
ok(-S "$dir/authd.sock", 'socket created');
is(sprintf('%o', (stat "$dir/authd.sock")[2] & 07777), '660', 'socket mode 0660');
is(sprintf('%o', (stat "$dir/authd/keys")[2] & 07777), '700', 'key directory mode 0700');
my @pems = glob("$dir/authd/keys/*.pem");
is(scalar @pems, 1, 'one signing key created on first start');
is(sprintf('%o', (stat $pems[0])[2] & 07777), '600', 'private key mode 0600');

my ($ok, $nginx_out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_issuer https://app.example.com;',
    config => 'location /api/v1/auth/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock:; proxy_set_header X-Request-Id $request_id; }
               location /t { spa_auth on; }',
);
ok($ok, 'nginx starts with the JWKS authd wrote') or diag($nginx_out);

my $r = http_request('GET /api/v1/auth/jwks.json');
is($r->{status}, 200, 'JWKS through nginx');
my $jwks = decode_json($r->{body});
is(scalar @{ $jwks->{keys} }, 1, 'one key published');
ok(!exists $jwks->{keys}[0]{d}, 'no private member');
(my $kid = $pems[0]) =~ s{.*/(.*)\.pem$}{$1};
is($jwks->{keys}[0]{kid}, $kid, 'kid is the key file name (its RFC 7638 thumbprint)');

$r = http_request('GET /api/v1/auth/nothing-here');
is($r->{status}, 404, 'unknown endpoint');
like($r->{body}, qr/^\{"success":false,"error":\{"code":"not_found"/, 'in the JSON envelope');
like($r->{body}, qr/"requestId":"[0-9a-f]{32}"/, 'with the request id nginx sent');

my $claims = { iss => 'https://app.example.com' };
my $t1 = SpaAuth::Test::mint_with("$pems[0]", claims => $claims);
is(http_request('GET /t', "Authorization: Bearer $t1")->{status}, 200, "a token signed with authd's key passes the module");

# Rotation from the CLI while both run.
$out = `$authd keys rotate --config $dir/authd.toml 2>&1`;
is($? >> 8, 0, 'keys rotate succeeds') or diag($out);
like($out, qr/published key (\S+); it signs from/, 'says which key and when');
my ($new_kid) = $out =~ /published key (\S+);/;
sleep 1.1;
$r = http_request('GET /api/v1/auth/jwks.json');
is(scalar @{ decode_json($r->{body})->{keys} }, 2, 'old and new key published');
my $t2 = SpaAuth::Test::mint_with("$dir/authd/keys/$new_kid.pem", claims => $claims);
is(http_request('GET /t', "Authorization: Bearer $t2")->{status}, 200, 'module picked up the new key without a reload');
is(http_request('GET /t', "Authorization: Bearer $t1")->{status}, 200, 'old key still accepted');

# Logs: JSON lines, the path without the query string.
http_request('GET /api/v1/auth/jwks.json?code=secret-code-123');
my $status = stop_authd('TERM');
is($status, 0, 'SIGTERM: clean exit');
ok(!-e "$dir/authd.sock", 'socket removed');
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
my @lines = grep { length } split /\n/, $log;
my @bad = grep { !eval { decode_json($_); 1 } } @lines;
is(scalar @bad, 0, 'every log line is JSON') or diag(join "\n", @bad);
like($log, qr/"event":"request".*"path":"\/api\/v1\/auth\/jwks\.json".*"request_id":"[0-9a-f]{32}"/, 'request logged with its id');
unlike($log, qr/secret-code-123/, 'query strings are not logged');
like($log, qr/"event":"stopped"/, 'stop logged');

stop_nginx();
done_testing();
