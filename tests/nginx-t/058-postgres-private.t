# The private PostgreSQL the many-node tests run on (issue 18;
# tests/nginx-t/lib/SpaAuth/Pg.pm): a cluster initdb makes in a temporary
# directory, served on a Unix socket there and on no TCP port, that keeps
# its data across a restart, stops with the test, and leaves Debian's
# system cluster as it was.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::Pg;
use IO::Socket::INET;
use Test::More;

my $clusters_before = `pg_lsclusters --no-header 2>&1`;
my $port = SpaAuth::Test::free_port();
my $pg = SpaAuth::Pg->start(port => $port);
ok($pg, 'a private cluster starts') or BAIL_OUT(SpaAuth::Pg::why());
my $dir = $pg->dir;

step 'served on its own socket only' => sub {
    is($pg->psql('select 40 + 2'), '42', 'psql over the socket in its directory');
    ok(-S "$dir/.s.PGSQL.$port", "the socket is $dir/.s.PGSQL.$port");
    ok(!IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2), "nothing on TCP port $port");
    like($pg->conninfo, qr/^host=\Q$dir\E port=$port user=spa dbname=spa$/, 'the libpq conninfo names it');
};

step 'a restart keeps the data' => sub {
    ok(defined $pg->psql('create table t (v text); insert into t values (\'kept\')'), 'a table written');
    ok($pg->stop, 'stopped');
    ok(!defined $pg->psql('select 1'), 'while stopped: no answer');
    ok($pg->start_again, 'started again');
    is($pg->psql('select v from t'), 'kept', 'the row is there');
};

step 'gone with the test, the system cluster untouched' => sub {
    my $pid_file = "$dir/data/postmaster.pid";
    my ($pid) = do { open my $fh, '<', $pid_file or die "$pid_file: $!"; scalar <$fh> } =~ /(\d+)/;
    ok(kill(0, $pid), "the server runs (pid $pid)");
    undef $pg;  # as at the end of a test
    my $state = '';
    if (open my $fh, '<', "/proc/$pid/stat") { $state = (split ' ', scalar <$fh>)[2] // '' }
    ok($state eq '' || $state eq 'Z', "it stopped with its object (process state: '$state')");
    ok(!-e $pid_file && !-S "$dir/.s.PGSQL.$port", 'its pid file and socket are gone');
    is(`pg_lsclusters --no-header 2>&1`, $clusters_before, 'pg_lsclusters says what it said before');
};

done_testing();
