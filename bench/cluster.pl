#!/usr/bin/perl
# spa-authd on PostgreSQL (issue 18, docs/scale-out.md), next to LMDB, in
# one run: durable refresh rotations/s and password logins/s
# (build/spa-authd-bench) with
#   lmdb   one spa-authd on its LMDB store (a single machine)
#   pg1    one spa-authd on PostgreSQL (a cluster of one node)
#   pg2    two spa-authd on the same PostgreSQL, each chain and login
#          client on one of them (a cluster of two nodes on one machine)
# then the revocation propagation across the two nodes: a logout on A, and
# the time from A's answer until B's nginx refuses the token (p50/p99).
#
# The nodes are tests/nginx-t/lib/SpaAuth/Cluster.pm's (nginx and spa-authd
# each, on loopback), on a private PostgreSQL that syncs its commits as
# LMDB does (fsync on, synchronous_commit on). Nothing is pinned: the
# servers, PostgreSQL and the client share this machine's cores, the same
# for every row, so the ratios to lmdb compare like with like.
#
# Prints the human lines, then "tsv\tROW\tNAME\tPER_SECOND\tP50_MS\tP99_MS\tCOUNT\tFAILED"
# lines for bench/all.sh. Not a test: nothing is enforced.
#
# BENCH_AUTHD_SECONDS (10)  rotations, then as long for logins, per row
# BENCH_CHAINS (8)          refresh chains
# BENCH_PROPAGATION (100)   logouts measured
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../tests/nginx-t/lib";
use SpaAuth::Cluster;
use SpaAuth::Test ();

my $secs = $ENV{BENCH_AUTHD_SECONDS} // 10;
my $chains = $ENV{BENCH_CHAINS} // 8;
my $samples = $ENV{BENCH_PROPAGATION} // 100;
my $bench = SpaAuth::Test::build_dir() . '/spa-authd-bench';
-x $bench or die "$bench is not built (make bench-tools)\n";
$| = 1;

sub say_ { print STDERR "==> @_\n" }

# spa-authd-bench's tsv lines, tagged with the row.
sub run_bench {
    my ($row, @args) = @_;
    my $out = `$bench @args 2>&1`;
    die "spa-authd-bench ($row) failed:\n$out" if $?;
    for (split /\n/, $out) {
        if (/^tsv\t/) { s/^tsv\t/tsv\t$row\t/; print "$_\n" } else { print STDERR "    $row: $_\n" }
    }
}

sub sockets { my ($c, @nodes) = @_; join ',', map { $c->node($_)->{dir} . '/authd.sock' } @nodes }

say_ "lmdb: one spa-authd on LMDB";
{
    my $c = SpaAuth::Cluster->start(nodes => 1, backend => 'lmdb') or die 'no node: ' . SpaAuth::Cluster::why() . "\n";
    run_bench('lmdb', sockets($c, 0), $secs, $chains, 20, $secs, 4);
}
say_ "pg1, pg2: spa-authd on one PostgreSQL (fsync on)";
my $c = SpaAuth::Cluster->start(nodes => 2, durable => 1) or die 'no cluster: ' . SpaAuth::Cluster::why() . "\n";
$c->stop_authd(1);  # a cluster of one node first
run_bench('pg1', sockets($c, 0), $secs, $chains, 20, $secs, 4);
$c->start_authd(1) or die 'node B: ' . SpaAuth::Cluster::why() . "\n";
run_bench('pg2', sockets($c, 0, 1), $secs, $chains, 20, $secs, 4);
say_ "propagation: $samples logouts on A, B's nginx asked until it refuses";
run_bench('pg2', 'propagation', sockets($c, 0), $c->node(1)->{port}, $samples);
