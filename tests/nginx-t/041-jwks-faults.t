# The JWKS file under faults (006 covers a broken JSON file and one
# deletion): replaced by binary garbage, emptied in place (0 bytes),
# deleted, briefly absent between an unlink and the new file, and moved
# away and back (the same inode) twice. Through each bad version the keys
# already loaded keep verifying, exactly one [error] line is logged per bad
# version however many requests come (20 each here), and the next good file
# is picked up without a reload.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Test::More;
use Time::HiRes qw(sleep time);

data_dir();
my ($ok, $out) = start_nginx(
    http_config => 'spa_auth_jwks_file @DIR@/jwks.json;',
    config      => 'location /t { spa_auth on; add_header X-Result $spa_auth_result always; }',
    main_config => '{{ write_file(SpaAuth::Test::prefix() . "/jwks.json", jwks_for("ed")); "" }}',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);
my $jwks = SpaAuth::Test::prefix() . '/jwks.json';
my %token = map { $_ => mint(key => $_) } qw(ed ed2 es256 rsa);

sub status_of {
    my $r = http_request('GET /t', "Authorization: Bearer $token{$_[0]}");
    return $r->{status} . ' ' . ($r->{headers}{'x-result'}[0] // '');
}
sub errors { my @e = error_log_text() =~ /\[error\].*spa_auth: JWKS "[^"]+" not reloaded, keeping the previous keys/g; scalar @e }
sub poll_until {
    my ($what, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) { return 1 if $what->(); sleep 0.05 }
    return 0;
}
# The way spa-authd writes it: a temp file renamed over the old one.
sub publish {
    my ($text) = @_;
    write_file("$jwks.tmp", $text);
    rename "$jwks.tmp", $jwks or die "rename: $!";
}
# A bad version: the module looks within a second and says so once; 20
# requests later the old keys still verify and the log has that one line.
sub bad_version {
    my ($what, $make, @keys) = @_;
    my $before = errors();
    $make->();
    ok(poll_until(sub { status_of($keys[0]) eq '200 ok' && errors() > $before }, 10), "$what: the module noticed");
    my %seen;
    $seen{ status_of($keys[$_ % @keys]) }++ for 1 .. 20;
    is_deeply(\%seen, { '200 ok' => 20 }, "$what: 20 requests, the loaded keys (@keys) still verify");
    is(errors() - $before, 1, "$what: exactly one [error] line");
}
# A good version is picked up: the token of a newly published key passes.
sub good_version {
    my ($what, $new, $dropped, @keys) = @_;
    publish(jwks_for(@keys));
    ok(poll_until(sub { status_of($new) eq '200 ok' }, 10), "$what: the new key ($new) is picked up");
    is(status_of($dropped), '401 unknown_kid', "$what: the key it dropped ($dropped) is gone") if $dropped;
}

is(status_of('ed'), '200 ok', 'the first file\'s key verifies');

bad_version('binary garbage', sub { publish(join '', map { chr(($_ * 131 + 7) % 256) } 1 .. 4096) }, 'ed');
good_version('good after garbage', 'ed2', undef, qw(ed ed2));

bad_version('emptied in place (0 bytes, same inode)', sub { truncate $jwks, 0 or die "truncate: $!" }, qw(ed ed2));
good_version('good after the empty file', 'es256', 'ed', qw(ed2 es256));

bad_version('deleted', sub { unlink $jwks or die }, qw(ed2 es256));
good_version('good after the deletion', 'rsa', 'ed2', qw(es256 rsa));

step 'briefly absent: unlinked, the new file written 0.3 s later' => sub {
    my $before = errors();
    unlink $jwks or die;
    my %seen;
    $seen{ status_of('rsa') }++ for 1 .. 5;
    sleep 0.3;
    write_file($jwks, jwks_for(qw(rsa ed)));
    $seen{ status_of('es256') }++ for 1 .. 5;
    is_deeply(\%seen, { '200 ok' => 10 }, 'no request refused during the gap');
    ok(poll_until(sub { status_of('ed') eq '200 ok' }, 10), 'the new file is picked up');
    is(status_of('es256'), '401 unknown_kid', 'with what it dropped');
    cmp_ok(errors() - $before, '<=', 1, 'at most one [error] line for the gap (none if it fell between two looks)');
};

# The same file moved away and back: the module keeps its keys (the inode
# it loaded is back, nothing to reload); moved away again is a new episode.
bad_version('moved away', sub { rename $jwks, "$jwks.away" or die }, qw(rsa ed));
rename "$jwks.away", $jwks or die;
sleep 1.1;  # let the module look at the restored file (nothing to see: no reload)
is(status_of('ed'), '200 ok', 'moved back: the keys are the same');
bad_version('moved away again', sub { rename $jwks, "$jwks.away" or die }, qw(rsa ed));
rename "$jwks.away", $jwks or die;

stop_nginx();
my $log = error_log_text();
unlike($log, qr/\[(alert|crit|emerg)\]/, 'nothing worse than the expected errors');
unlike($log, qr/exited on signal/, 'no worker died');
done_testing();
