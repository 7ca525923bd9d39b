# `make bench` keeps working: bench/all.sh with tiny durations prints every
# row of its table with a positive number, and the verifiers it compares
# really answered 204 (or 200 through nginx) for the token and 401 for a
# bad one. Checks status codes and that rows exist, never speed.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use File::Temp qw(tempdir);
use Test::More;

my $build = build_dir();
for my $bin (qw(spa-verify-bench spa-authd-bench spa-auth-mint spa-authd ngx_http_spa_auth_module.so)) {
    plan(skip_all => "$build/$bin is not built (make bench-tools)") unless -e "$build/$bin";
}
my $out = tempdir('spa-bench-smoke-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $log = `BENCH_SECONDS=1 BENCH_PAIRS=1 BENCH_TOKENS=500 BENCH_AUTHD_SECONDS=1 BENCH_PROPAGATION=5 BENCH_SOCKETS=100 BENCH_CONNECTIONS=8 SPA_BUILD=$build BENCH_OUT=$out bench/all.sh 2>&1`;
is($?, 0, 'bench/all.sh runs to its end') or diag($log);

my %checks;
if (open my $fh, '<', "$out/checks.tsv") {
    while (<$fh>) { chomp; my ($name, $want, $got) = split /\t/; $checks{$name} = [$want, $got] }
}
for (qw(authd_verify_good:204 authd_verify_bad:401 node_verify_good:204 node_verify_bad:401 node_verify_cookie:204
        ar_authd_good:200 ar_authd_bad:401 ar_node_good:200 ar_node_bad:401 cached_good:200 cached_bad:401
        session_good:200 session_bad:401 fresh_eddsa_good:200 fresh_es256_good:200 fresh_rs256_good:200 fresh_rs256_bad:401)) {
    my ($name, $want) = split /:/;
    is($checks{$name} && $checks{$name}[1], $want, "$name answered $want");
}

my %rows;
if (open my $fh, '<', "$out/results.tsv") {
    <$fh>;
    while (<$fh>) { chomp; my @f = split /\t/; $rows{$f[0]} = \@f }
}
for my $row (qw(baseline cached fresh_eddsa fresh_es256 fresh_rs256 session limit1 limit3 ar_authd ar_node
                cached_over_ar_node cached_over_ar_authd inproc_eddsa authd_login authd_refresh ws_sockets
                cluster_lmdb_refresh cluster_pg1_refresh cluster_pg2_refresh cluster_lmdb_login cluster_pg1_login
                cluster_pg2_login cluster_propagation)) {
    ok($rows{$row} && $rows{$row}[2] =~ /^[0-9.]+$/ && $rows{$row}[2] > 0, "row $row has a positive value")
        or diag($rows{$row} ? join(' | ', @{ $rows{$row} }) : "no row $row");
}
ok(exists $rows{ws_bytes}, 'row ws_bytes is there');
# The nginx rows measured what they meant to: no non-2xx answers.
for my $row (qw(cached fresh_eddsa fresh_es256 fresh_rs256 session limit1 limit3 ar_authd ar_node)) {
    is($rows{$row} && $rows{$row}[12], 0, "row $row: every answer 2xx") if $rows{$row};
}
like($log, qr/^baseline: static file, no auth/m, 'the table is printed');

# The chart is drawn from the same file.
my $chart = `bench/chart.sh $out/results.tsv $out/bench.svg 2>&1`;
is($?, 0, 'bench/chart.sh draws it') or diag($chart);
ok(-s "$out/bench.svg", 'an SVG comes out');
done_testing();
