# Moving a single machine to PostgreSQL (issue 18, docs/scale-out.md
# "Moving from one machine"): an installation on LMDB with users, a live
# session and a user with TOTP; spa-authd stopped, the backend switched,
# `db migrate`, `db import`; then the tokens issued before the move still
# work (the access token's key imported with it, the refresh token
# rotating), passwords and the second factor too, a logout reaches nginx;
# and an import refused without the schema, twice, from the wrong
# directory, onto a database with another node's signing keys, or without
# the old machine's MFA key, each time changing nothing.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Cluster;
use Test::More;

my $c = SpaAuth::Cluster->start(nodes => 1, backend => 'lmdb') or BAIL_OUT('no node: ' . SpaAuth::Cluster::why());
my $origin = 'Origin: https://app.example.com';
my %u = (email => 'mover@example.com', username => 'mover', password => 'mover password 1');
my %m = (email => 'second@example.com', username => 'second', password => 'second password 1');
sub svc { my ($token) = @_; $c->get(0, '/svc/t', "Authorization: Bearer $token")->{status} }
sub login { my (%who) = @_; $c->api(0, POST => '/api/v1/auth/login', { email => $who{email}, password => $who{password} }, $origin) }
my $has_oath = -x '/usr/bin/oathtool';
my ($tokens, $secret);

step 'a single machine on LMDB, in use' => sub {
    is($c->api(0, POST => '/api/v1/auth/signup', \%u, $origin)->{status}, 201, 'a user signs up');
    $tokens = login(%u)->{json}{data};
    is(svc($tokens->{access_token}), 200, 'and has a session nginx accepts');
    is($c->api(0, POST => '/api/v1/auth/signup', \%m, $origin)->{status}, 201, 'another user');
    SKIP: {
        skip 'oathtool not installed', 1 unless $has_oath;
        my $auth = 'Authorization: Bearer ' . login(%m)->{json}{data}{access_token};
        $secret = $c->api(0, POST => '/api/v1/mfa/setup', {}, $auth)->{json}{data}{secret};
        chomp(my $code = `oathtool --totp --base32 $secret`);
        is($c->api(0, POST => '/api/v1/mfa/enable', { code => $code }, $auth)->{status}, 200, 'who turns on TOTP');
    }
};

step 'the move: refused until the schema is made, then whole' => sub {
    $c->stop_authd(0);
    my ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 1, 'db import while the backend is still lmdb: refused');
    like($out, qr/set \[store\] backend = "postgresql"/, 'saying what to set');
    $c->set_backend(0, 'postgresql');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 1, 'before db migrate: refused');
    like($out, qr/db migrate/, 'naming db migrate');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'migrate');
    is($rc, 0, 'db migrate') or diag($out);
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import', '--from', $c->node(0)->{dir} . '/authd/store');
    is($rc, 1, 'from the sessions mirror ([store] path): refused');
    like($out, qr/not a whole spa-authd store.*private_path.*\(nothing was imported\)/, 'saying which directory to name');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import', '--from', 'relative/dir');
    is($rc, 1, 'a relative --from: refused');
    like($out, qr/--from relative\/dir: must be an absolute path/, 'saying why');
    # A spa-authd of the cluster started before the import: the database
    # has its keys, not this machine's, which would then never be taken
    # over (every token signed here refused after the move).
    is($c->pg->psql(q{insert into spa_signing_keys (kid, alg, active_from, sealed) values ('another-node', 'EdDSA', 0, '\x00')}),
       '', 'another node made the cluster\'s keys');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 1, 'the database has other signing keys: refused');
    like($out, qr/already has signing keys, and not \S+\/authd\/keys's key \S+ .*\(nothing was imported\)/,
         'naming key_dir and what to do');
    $c->pg->psql('delete from spa_signing_keys');
    # key_dir's schedule unreadable: its keys can be neither checked nor moved.
    my $schedule = "$c->{nodes}[0]{dir}/authd/keys/keys.json";
    my $kept = do { local $/; open my $fh, '<', $schedule or die "$schedule: $!"; <$fh> };
    SpaAuth::Test::write_file($schedule, 'not json');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    SpaAuth::Test::write_file($schedule, $kept);
    is($rc, 1, 'key_dir unreadable: refused');
    like($out, qr/tokens\.key_dir: .*keys\.json.*move with the store \(nothing was imported\)/, 'naming the file');
    # [mfa] secret_key_file not copied from the old machine.
    my $mfa_key = "$c->{nodes}[0]{dir}/authd/mfa.key";
    rename $mfa_key, "$mfa_key.old" or die "rename: $!";
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 1, 'no MFA key file: refused (never created by the import)');
    like($out, qr/mfa\.secret_key_file: .*copy the old machine's file first/, 'saying so');
    ok(!-e $mfa_key, 'and no key file was made');
    SKIP: {
        skip 'oathtool not installed: no TOTP seed to open', 2 unless $has_oath;
        SpaAuth::Test::write_file($mfa_key, join '', map { chr int rand 256 } 1 .. 32);
        chmod 0600, $mfa_key;
        ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
        is($rc, 1, 'another MFA key: refused');
        like($out, qr/does not open the TOTP secrets/, 'every TOTP would fail: saying so');
    }
    rename "$mfa_key.old", $mfa_key or die "rename: $!";
    is($c->pg->psql('select count(*) from spa_users'), 0, 'nothing imported so far');
    # The database's keys are key_dir's own (this machine started on it
    # first): nothing is lost, the import goes ahead.
    my ($kid) = $kept =~ /"kid"\s*:\s*"([^"]+)"/ or die 'no kid in keys.json';
    defined $c->pg->psql(qq{insert into spa_signing_keys (kid, alg, active_from, sealed) values ('$kid', 'EdDSA', 0, '\\x00')}) or die 'insert';
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 0, 'db import from [store] private_path (the database holding key_dir\'s key)') or diag($out);
    $c->pg->psql('delete from spa_signing_keys');  # (a stand-in: the first start adopts key_dir's)
    unlike($out, qr/warning/, 'without a warning: the MFA key opened a seed, key_dir has keys, the records fit');
    like($out, qr/^imported \d+ records \(\d+ bytes\) from \S+\/authd\/store\/private: .*users 2\b.*/m, 'counting what it copied');
    like($out, qr/start spa-authd on this machine first/, 'and saying what comes next');
    is($c->pg->psql('select count(*) from spa_users'), 2, 'both users in the database');
    ($rc, $out) = $c->authd_cmd(0, 'db', 'import');
    is($rc, 1, 'a second import: refused');
    like($out, qr/already holds records \(table users\)/, 'the database is not empty');
    is($c->pg->psql('select count(*) from spa_users'), 2, 'nothing added');
};

step 'on PostgreSQL: what was issued before the move still works' => sub {
    ok($c->start_authd(0), 'spa-authd starts on PostgreSQL') or diag(SpaAuth::Cluster::why());
    is(svc($tokens->{access_token}), 200, 'the access token from before the move (its key moved with the store)');
    my $r = $c->api(0, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin);
    is($r->{status}, 200, 'the refresh token from before the move rotates') or diag($r->{body});
    my $new = $r->{json}{data};
    is(svc($new->{access_token}), 200, 'and its successor passes');
    my $again = $c->api(0, POST => '/api/v1/auth/refresh', { refresh_token => $tokens->{refresh_token} }, $origin);
    is($again->{json}{data}{refresh_token} // '', $new->{refresh_token},
       'the old one again inside the grace window: the same successor, as before the move');
    is(login(%u, password => 'not the password')->{status}, 401, 'a wrong password is refused');
    is(login(%u)->{status}, 200, 'the password logs in');
    SKIP: {
        skip 'oathtool not installed', 2 unless $has_oath;
        my $step = login(%m)->{json}{data};
        ok($step->{mfa_required}, 'the user with TOTP is asked for the second factor');
        chomp(my $code = `oathtool --totp --base32 -N \@@{[ time + 30 ]} $secret`);
        is($c->api(0, POST => '/api/v1/mfa/verify', { mfa_token => $step->{mfa_token}, code => $code })->{status}, 200,
           'the seed set up on LMDB still opens (the MFA key kept)');
    }
    is($c->api(0, POST => '/api/v1/auth/logout', { refresh_token => $new->{refresh_token} },
               "Authorization: Bearer $new->{access_token}")->{status}, 200, 'a logout');
    is(svc($new->{access_token}), 401, 'refused by nginx at once: its mirror is fed from the database');
    is(svc($tokens->{access_token}), 401, 'the same session, by its older token too');
};

done_testing();
