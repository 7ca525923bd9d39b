# The systemd unit is valid and hardened (exposure at most 2.5).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use Test::More;
use File::Temp qw(tempdir);

plan skip_all => 'systemd-analyze not installed' unless -x '/usr/bin/systemd-analyze';
my $tmp = tempdir(CLEANUP => 1);
# The unit names /usr/sbin/spa-authd; verify this build's binary in its place.
open my $in, '<', 'systemd/spa-authd.service' or die;
my $unit = do { local $/; <$in> };
my $bin = build_dir() . '/spa-authd';
$unit =~ s{/usr/sbin/spa-authd}{$bin}g;
write_file("$tmp/spa-authd.service", $unit);

# Its Documentation= names man:spa-authd(8), which the package installs;
# verify looks it up, so the page of debian/ is what man finds here.
mkdir "$tmp/man" or die;
mkdir "$tmp/man/man8" or die;
system('cp', 'debian/spa-authd.8', "$tmp/man/man8/") == 0 or die;
my $out = `MANPATH=$tmp/man systemd-analyze verify $tmp/spa-authd.service 2>&1`;
is($? >> 8, 0, 'systemd-analyze verify passes') or diag($out);
is($out, '', 'and has nothing to say') or diag($out);

$out = `systemd-analyze security --offline=true $tmp/spa-authd.service 2>&1`;
my ($exposure) = $out =~ /Overall exposure level for \S+: ([\d.]+)/;
ok(defined $exposure, 'security analysis ran') or diag($out);
cmp_ok($exposure, '<=', 2.5, "exposure $exposure is at most 2.5");
like($unit, qr/^NoNewPrivileges=yes$/m, 'NoNewPrivileges');
like($unit, qr/^ProtectSystem=strict$/m, 'ProtectSystem=strict');
like($unit, qr/^SystemCallFilter=\@system-service$/m, 'SystemCallFilter=@system-service');
like($unit, qr/^CapabilityBoundingSet=$/m, 'no capabilities');
done_testing();
