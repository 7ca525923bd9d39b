# spa-authd's store when it cannot be written, at start and while running.
# The tests run as root, for whom chmod changes nothing, so the store is
# made unwritable in ways that stop root too: its path a regular file,
# `chattr +i` (immutable: nothing created or renamed in the directory, no
# write to its files, even through a descriptor already open; ext4 under
# /tmp here, checked first), and the directory moved away while both run.
# lock.mdb stays writable: a write fault on its shared map is SIGBUS in
# every LMDB process (docs/authd.md, "Readers, restores and damaged files").
# At start: `--check-config` and the daemon name the path and the reason
# and write nothing there. While running: nothing is answered as done that
# was not stored (a logout that cannot be stored is not a 200), each fault
# is logged once, not per request, and writes resume once the store is
# back. The module fails closed: with the store gone, session-checked
# locations answer 503 store_unavailable (docs/module.md "Errors"), logged
# once; with the store only unwritable, it still reads it (valid sessions
# pass, revoked ones stay refused).
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
my $authd = build_dir() . '/spa-authd';
my @immutable;
END { system('chattr', '-i', $_) for grep { -e } @immutable }  # or the temp dir cannot be removed
sub immutable { push @immutable, @_; system('chattr', '+i', @_) == 0 or die "chattr +i @_" }
sub mutable { system('chattr', '-i', @_) == 0 or die "chattr -i @_" }

{
    mkdir "$dir/probe" or die;
    my $stops_us = system("chattr +i $dir/probe 2>/dev/null") == 0 && !open(my $fh, '>', "$dir/probe/x");
    system("chattr -i $dir/probe 2>/dev/null");
    plan skip_all => 'chattr +i does not stop this user on this file system' unless $stops_us;
}

sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; <$fh> // '' }
sub events { my ($name) = @_; my @l = authd_log() =~ /"event":"\Q$name\E"/g; scalar @l }
sub check_config { my $o = `$authd --check-config --config $dir/authd.toml 2>&1`; ($? >> 8, $o) }
# A start that must fail: bounded by timeout(1) in case it does not.
sub failed_start {
    my $mark = length authd_log();
    system("timeout 10 $authd --config $dir/authd.toml >>$dir/logs/authd.log 2>&1");
    return ($? >> 8, substr(authd_log(), $mark));
}
sub listing { my ($d) = @_; join ' ', sort map { s{.*/}{}r } glob("$d/*") }

mkdir "$dir/authd" or die;
write_file("$dir/authd.toml", authd_toml(mode => 'bearer'));

step 'at start: the store path is a regular file' => sub {
    write_file($store, "not a directory\n");
    my ($rc, $out) = check_config();
    isnt($rc, 0, '--check-config fails');
    like($out, qr/store\.path: \Q$store\E is not a directory/, 'and names the key and the reason');
    ($rc, $out) = failed_start();
    isnt($rc, 0, 'spa-authd does not start') or diag($out);
    isnt($rc, 124, 'and exits rather than hanging');
    like($out, qr/"event":"startup_failed".*\Q$store\E.*not a directory/, 'startup_failed names the path and the reason');
    ok(!-e "$dir/authd.sock", 'no socket left behind');
    unlink $store or die;
};

step 'at start: the store directory is immutable' => sub {
    mkdir $store or die;
    immutable($store);
    my ($rc, $out) = check_config();
    isnt($rc, 0, '--check-config fails');
    like($out, qr/store\.path: \Q$store\E: cannot be written \(Operation not permitted\)/, 'and names the key and the reason');
    ($rc, $out) = failed_start();
    isnt($rc, 0, 'spa-authd does not start');
    isnt($rc, 124, 'and exits rather than hanging');
    like($out, qr/"event":"startup_failed".*\Q$store\E.*Operation not permitted/, 'startup_failed names the path and the reason');
    is(listing($store), '', 'nothing was written in it');
    mutable($store);
    ($rc, $out) = check_config();
    is($rc, 0, '--check-config passes once it is writable') or diag($out);
};

start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;
                    spa_auth_issuer https://app.example.com; spa_auth_audience spa;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub svc { my $r = http_request('GET /svc/x', "Authorization: Bearer $_[0]"); wantarray ? ($r->{status}, $r) : $r->{status} }
sub signup { my ($n) = @_; json_request(POST => '/api/v1/auth/signup', { email => "$n\@example.com", username => $n, password => "$n password!" }) }
sub login { my ($n) = @_; json_request(POST => '/api/v1/auth/login', { email => "$n\@example.com", password => "$n password!" }) }
sub poll_until {
    my ($what, $limit) = @_;
    my $t0 = time;
    while (time - $t0 < $limit) { return 1 if $what->(); sleep 0.05 }
    return 0;
}

is(signup($_)->{status}, 201, "$_ signs up") for qw(ann ben cat);
my %s = map { $_ => login($_)->{json}{data} } qw(ann ben cat);
is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $s{cat}{access_token}")->{status}, 200, 'cat logs out');

step 'while running: the store made immutable' => sub {
    my @files = ($store, "$store/data.mdb", "$store/private", "$store/private/data.mdb");  # the mirror, and the store
    immutable(@files);
    my %codes;
    for my $n (1 .. 10) {
        my $r = signup("new$n");
        $codes{ error_of($r) }++;
    }
    is_deeply(\%codes, { '503 store_unavailable' => 10 }, 'sign-ups: 503 store_unavailable, every one');
    is(error_of(login('ann')), '503 store_unavailable', 'a login too');
    my $r = json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $s{ben}{access_token}");
    is(error_of($r), '503 store_unavailable', 'a logout that cannot be stored is not answered 200');
    is($r->{json}{success}, JSON::PP::false, 'in the envelope');
    is(svc($s{ben}{access_token}), 200, 'the module still reads the store: ben\'s session (not logged out) passes');
    is(svc($s{cat}{access_token}), 401, 'cat\'s, revoked before, stays refused');
    is(events('store_write_failed'), 1, 'logged once, not per request');
    mutable(@files);
    ok(poll_until(sub { signup('dan')->{status} == 201 }, 10), 'writable again: a sign-up succeeds, no restart needed');
    is(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $s{ben}{access_token}")->{status}, 200, 'the logout now lands');
    is(svc($s{ben}{access_token}), 401, 'and the module refuses ben at once');
    is(login('ann')->{status}, 200, 'ann logs in');
};

step 'while running: the store directory moved away, then back' => sub {
    my $mark = length error_log_text();
    my $failed = events('store_file_replaced');
    rename $store, "$store.away" or die;
    ok(poll_until(sub { svc($s{ann}{access_token}) == 503 }, 10), 'the module notices: 503');
    my (%seen, $r);
    for (1 .. 20) { (my $st, $r) = svc($s{ann}{access_token}); $seen{$st}++ }
    is_deeply(\%seen, { 503 => 20 }, 'every session-checked request: 503 (fail closed)');
    is($r->{headers}{'x-result'}[0], 'store_unavailable', '$spa_auth_result store_unavailable');
    is(decode_json($r->{body})->{error}{code}, 'temporarily_unavailable', 'the documented envelope code');
    is(error_of(signup('eve')), '503 store_unavailable', 'spa-authd: a sign-up, 503 store_unavailable');
    is(error_of(json_request(POST => '/api/v1/auth/logout', undef, "Authorization: Bearer $s{ann}{access_token}")),
       '503 store_unavailable', 'a logout too (it would land in a file nobody reads)');
    my @said = substr(error_log_text(), $mark) =~ /session store unavailable|cannot open session store/g;
    is(scalar @said, 1, 'nginx logs it once (' . scalar(@said) . ' lines)');
    is(events('store_file_replaced') - $failed, 1, 'spa-authd logs it once');
    rename "$store.away", $store or die;
    ok(poll_until(sub { svc($s{ann}{access_token}) == 200 }, 10), 'moved back: the module reads it again');
    ok(poll_until(sub { signup('fay')->{status} == 201 }, 10), 'and spa-authd writes again');
    rename $store, "$store.away" or die;
    is(error_of(signup('gus')), '503 store_unavailable', 'moved away a second time: refused again');
    is(events('store_file_replaced') - $failed, 2, 'and that second episode is logged too');
    rename "$store.away", $store or die;
};

step 'after a restart: everything answered is there' => sub {
    stop_authd('TERM');
    start_authd(mode => 'bearer');
    is(login($_)->{status}, 200, "$_ logs in") for qw(ann ben dan fay);
    is(login('new1')->{status}, 401, 'a sign-up refused while immutable left no user');
    is(signup('new1')->{status}, 201, 'and no half: the address signs up afresh');
    is(svc($s{ben}{access_token}), 401, 'ben\'s logout held');
};

stop_authd('TERM');
stop_nginx();
my $log = authd_log();
my @leaked = grep { index($log, $_) >= 0 } map { @{$_}{qw(access_token refresh_token)} } values %s;
is(scalar @leaked, 0, 'no token in the spa-authd log');
unlike($log, qr/ann password!/, 'no password either');
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nginx: nothing worse than [error]');
unlike(error_log_text(), qr/exited on signal/, 'no worker died');
done_testing();
