# nginx workers and the LMDB file. Workers killed with SIGKILL leave their
# reader slots behind: more kills than the lock file has slots (512) must
# leave nginx working. A mirror (the sessions file nginx reads) replaced by
# rename is followed within a second or two: a session revoked only in the
# new file is refused, never read from the old inode; a store restored
# (mdb_copy -c, then mv over private/data.mdb) is what the mirror says once
# spa-authd starts on it. A truncated
# or garbage data.mdb answers 503 store_unavailable, logged once, and no
# worker dies.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $store = "$dir/authd/store";
start_authd(mode => 'bearer');
my %nginx = (
    reuse_prefix => 1,
    http_config => '
        spa_auth_jwks_file @DIR@/authd/jwks.json;
        spa_auth_session_store @DIR@/authd/store;
        spa_auth_issuer https://app.example.com;
        spa_auth_audience spa;',
    config => '
        location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
        location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
my ($ok, $out) = start_nginx(%nginx);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub svc { my $r = http_request('GET /svc/x', "Authorization: Bearer $_[0]"); wantarray ? ($r->{status}, $r) : $r->{status} }
sub session_of {
    my ($name) = @_;
    json_request(POST => '/api/v1/auth/signup', { email => "$name\@example.com", username => $name, password => "$name password!" });
    json_request(POST => '/api/v1/auth/login', { email => "$name\@example.com", password => "$name password!" })->{json}{data};
}
sub master_pid { open my $fh, '<', "$dir/logs/nginx.pid" or die; my $p = <$fh>; chomp $p; $p }
sub workers {
    my $master = master_pid();
    my @w;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $s = <$fh> // next;
        push @w, $1 if $s =~ /^(\d+) \(nginx\) [^Z] (\d+)/ && $2 == $master;
    }
    return @w;
}
sub error_log_from { substr(SpaAuth::Test::error_log_text(), $_[0]) }
sub poll_until {
    my ($what, $limit, $step) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) { return time - $t0 if $what->(); sleep($step // 0.05) }
    return undef;
}

my $alice = session_of('alice');
my $bob = session_of('bob');
is(svc($alice->{access_token}), 200, 'alice passes');

my ($mark);
step 'killed workers: 1,000 SIGKILLs (the issue\'s number; the lock file has 512 slots), each worker registered as a reader first' => sub {
    my $kills = 1000;
    my ($served, $last) = (0, 0);
    for my $i (1 .. $kills) {
        my @w = workers();
        my $before = $w[0] or last;
        $last = svc($alice->{access_token});
        $served++ if $last == 200;
        kill 'KILL', $before;
        poll_until(sub { my @n = workers(); @n && $n[0] != $before }, 10, 0.002) // last;
    }
    is($served, $kills, "$kills workers, each killed after it read the store: every request answered 200");
    is(svc($alice->{access_token}), 200, 'and the next worker still reads the store');
    my $readers = `mdb_stat -r $store 2>&1`;
    my ($slots) = $readers =~ /(\d+) slots? ha(?:s|ve) been used|/;
    my @live = $readers =~ /^\s+\d+\s+[0-9a-f]+\s+/mg;
    ok(@live < 10, 'dead readers do not pile up in the lock file (' . scalar(@live) . ' listed)');
};

step 'a store replaced underneath: revoke alice only in a compacted copy' => sub {
    stop_authd();
    my $copy = "$dir/copy";
    mkdir $copy or die;
    mkdir "$copy/private" or die;
    is(system("mdb_copy -c $store/private $copy/private"), 0, 'mdb_copy -c of the store (its private directory)');
    my $copy_toml = SpaAuth::Test::authd_toml(mode => 'bearer');
    $copy_toml =~ s{path = "\Q$store\E"}{path = "$copy"} or die;
    start_authd(toml => $copy_toml);
    is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $alice->{access_token}")->{status}, 200,
       'alice logs out in the copy only');
    stop_authd();
    is(svc($alice->{access_token}), 200, 'the live file still has her session');
    # Restored as a whole: the store, and the mirror authd made of it.
    rename "$copy/private/data.mdb", "$store/private/data.mdb" or die "rename: $!";
    is(svc($alice->{access_token}), 200, 'the store alone restored: nginx reads the mirror, not changed yet');
    rename "$copy/data.mdb", "$store/data.mdb" or die "rename: $!";
    my $after = poll_until(sub { svc($alice->{access_token}) != 200 }, 10);
    ok(defined $after && $after < 5, sprintf('the replaced file is noticed (%.2f s): alice is refused', $after // -1));
    # The old lock file belongs to the old data file: until spa-authd renews it,
    # workers refuse (503) rather than read through it; then they read the new file.
    start_authd(mode => 'bearer');
    my $settled = poll_until(sub { svc($alice->{access_token}) == 401 && svc($bob->{access_token}) == 200 }, 10);
    ok(defined $settled, 'after spa-authd starts on it: alice 401 (revoked in the new file), bob 200');
    is(svc($alice->{access_token}), 401, 'alice stays refused');
};

step 'a truncated, then a garbage data.mdb: 503, logged once, no worker dies' => sub {
    $mark = length SpaAuth::Test::error_log_text();
    stop_authd();
    my $data = do { local $/; open my $fh, '<:raw', "$store/data.mdb" or die; <$fh> };
    for my $case (['truncated', substr($data, 0, 3 * 4096)], ['garbage', "\x5a" x 65536]) {
        my ($name, $bytes) = @$case;
        SpaAuth::Test::write_file("$store/new.mdb", $bytes);
        rename "$store/new.mdb", "$store/data.mdb" or die;
        ok(defined poll_until(sub { svc($bob->{access_token}) == 503 }, 10), "$name store: 503");
        my ($status, $r) = svc($bob->{access_token});
        is(decode_json($r->{body})->{error}{code} // '', 'temporarily_unavailable', "$name store: the JSON envelope");
        like($r->{headers}{'x-spa-auth-result'}[0] // 'store_unavailable', qr/store_unavailable/, "$name: store_unavailable");
        my %seen;
        $seen{svc($bob->{access_token})}++ for 1 .. 50;
        is_deeply(\%seen, { 503 => 50 }, "$name store: every request 503");
    }
    # nginx -t checks the store (directives.cpp): a garbage file is named, not a crash.
};

stop_nginx();
my $nginx_bin = $ENV{SPA_NGINX} || "/usr/sbin/nginx";
my $t = `$nginx_bin -p $dir -c $dir/conf/nginx.conf -t 2>&1`;
like($t, qr/spa_auth_session_store .*MDB_INVALID/, 'nginx -t on a garbage store names it');
my $log = error_log_from($mark);
unlike($log, qr/exited on signal/, 'no worker died');
my @said = $log =~ /session store unavailable|cannot open session store/g;
ok(@said >= 1 && @said <= 4, 'the failure is logged once per episode (' . scalar(@said) . ' lines), not per request');
like($log, qr/truncated/, 'the log says the file is truncated');
done_testing();
