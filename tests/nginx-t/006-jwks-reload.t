# The JWKS file is re-read when it changes, without an nginx reload: new
# keys are used, a broken file keeps the previous keys (and says so once),
# and a token verified earlier stops working when its key leaves the set.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Test::More;
use Time::HiRes qw(sleep);

data_dir();
my $jwks;

# Writes the JWKS the way spa-authd does: a temp file renamed over the old.
sub publish {
    my ($text) = @_;
    write_file("$jwks.tmp", $text);
    rename "$jwks.tmp", $jwks or die "rename: $!";
    sleep 1.1;  # the module stats the file at most once a second per worker
}

sub status_of {
    my ($token) = @_;
    my $r = http_request('GET /t', "Authorization: Bearer $token");
    return $r->{status} . ' ' . ($r->{headers}{'x-result'}[0] // '');
}

my ($ok, $out) = start_nginx(
    http_config => 'spa_auth_jwks_file @DIR@/jwks.json;',
    config      => 'location /t { spa_auth on; add_header X-Result $spa_auth_result always; }',
    main_config => '{{ write_file(SpaAuth::Test::prefix() . "/jwks.json", jwks_for("ed")); "" }}',
);
ok($ok, 'nginx starts') or diag($out);
$jwks = SpaAuth::Test::prefix() . '/jwks.json';

my $old = mint(key => 'ed');
my $new = mint(key => 'ed2');
is(status_of($old), '200 ok', 'token signed by the published key');
is(status_of($old), '200 ok', 'same token again (from the cache)');
is(status_of($new), '401 unknown_kid', 'token signed by a key not yet published');

publish(jwks_for('ed', 'ed2'));
is(status_of($new), '200 ok', 'new key used after the file changed, no reload');
is(status_of($old), '200 ok', 'old key still published');

publish('{"keys": [ {"kty": "OKP"');
is(status_of($old), '200 ok', 'broken file: previous keys kept');
is(status_of($new), '200 ok', 'broken file: previous keys kept (2)');

publish(jwks_for('ed2'));
is(status_of($old), '401 unknown_kid', 'cached token refused once its key left the JWKS');
is(status_of($new), '200 ok', 'remaining key still works');

unlink $jwks;
sleep 1.1;
is(status_of($new), '200 ok', 'deleted file: previous keys kept');

sleep 0.1;
stop_nginx();
my $log = error_log_text();
my @reloaded = $log =~ /spa_auth: reloaded JWKS "[^"]+" \(\d+ keys\)/g;
is(scalar @reloaded, 2, 'two reloads logged');
my @refused = $log =~ /\[error\].*spa_auth: JWKS "[^"]+" not reloaded, keeping the previous keys/g;
is(scalar @refused, 2, 'broken and deleted file each reported once, as errors');
like($log, qr/keeping the previous keys: invalid JSON/, 'reason given');
unlike($log, qr/\[(alert|crit|emerg)\]/, 'nothing worse than the expected errors');

done_testing();
