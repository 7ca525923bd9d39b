# `make run` as a new user meets it: scripts/run.sh on free ports, its state
# in a temporary directory (SPA_STATE, never the developer's .local/), and
# the commands it prints run in order in one shell: the walk-through (sign
# up, confirm the mailed link, log in, the demo service, refresh, the
# WebSocket, logout), the first administrator's and the password reset's.
# Twice: the second start has a new user, so nothing is "taken". A
# certificate with the wrong names or about to expire is made again. A busy
# port or an nginx that will not start ends the start with one line and
# leaves nothing running; make reset removes the state.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test qw(free_port);
use SpaAuth::WsPeers;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

BAIL_OUT('tests/peers is not installed: run make deps') unless SpaAuth::WsPeers::available();
my $tmp = tempdir('spa-make-run-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tmp;
my $state = "$tmp/state";
my %used;
my %ports = map { my $p; do { $p = free_port() } while $used{$p}++; ($_ => $p) }
            qw(PORT DEMO_PORT OIDC_PORT WS_PORT SMTP_PORT);
my $OWNER = $$;
END { local $?; system("SPA_STATE=$state scripts/stop.sh --quiet") if $$ == $OWNER && -d $state }
# Killed or cut off (a closed pipe), the stack is still stopped (END).
$SIG{$_} = sub { exit 1 } for qw(INT TERM HUP PIPE);

sub slurp { my ($f) = @_; open my $fh, '<', $f or return ''; local $/; return <$fh> // '' }

# scripts/run.sh with our ports and state; (exit code, stdout, stderr).
sub run_sh {
    my (%env) = @_;
    local %ENV = %ENV;
    delete @ENV{qw(PROFILE SPA_STATE)};
    %ENV = (%ENV, %ports, SPA_STATE => $state, SPA_BUILD => SpaAuth::Test::build_dir(), %env);
    system("scripts/run.sh > $tmp/run.out 2> $tmp/run.err");
    return ($? >> 8, slurp("$tmp/run.out"), slurp("$tmp/run.err"));
}

# The command lines of the printed sections whose "==> " title starts so:
# the lines indented by two spaces, comments left out.
sub commands {
    my ($out, @titles) = @_;
    my ($on, @cmds) = (0);
    for (split /\n/, $out) {
        if (/^==> (.*)/) { my $t = $1; $on = grep { index($t, $_) == 0 } @titles; next }
        push @cmds, $1 if $on && /^  ([^ #].*)$/;
    }
    return @cmds;
}

# Runs the commands in one bash, as a user pasting them would; returns the
# output of each (without the WebSocket client's "[ws]" lines) and the
# "[ws]" lines, once the background socket has printed how it ended.
sub follow {
    my (@cmds) = @_;
    my $script = join '', map { "echo '\@\@ $_'\n$cmds[$_]\n" } 0 .. $#cmds;
    SpaAuth::Test::write_file("$tmp/walk.sh", $script);
    system("cd $tmp && bash walk.sh > $tmp/walk.out 2>&1 < /dev/null");
    my $deadline = time + 25;  # the module rechecks the socket's session every 10 s
    sleep 0.1 until slurp("$tmp/walk.out") =~ /^\[ws\] (closed|connection lost|still open|refused)/m || time > $deadline;
    my $all = slurp("$tmp/walk.out");
    my @ws = $all =~ /^(\[ws\] .*)$/mg;
    $all =~ s/^\[ws\] .*\n//mg;
    my @out;
    while ($all =~ /^\@\@ (\d+)\n(.*?)(?=^\@\@ \d+\n|\z)/msg) { $out[$1] = $2 }
    return (\@out, \@ws, $all);
}

# Checks that the commands come in this order and answer so: each expected
# step is [name, pattern matching its command, sub checking its output].
sub check_steps {
    my ($round, $cmds, $out, @steps) = @_;
    my $i = 0;
    for my $step (@steps) {
        my ($name, $pattern, $check) = @$step;
        $name = "round $round: $name";
        my $from = $i;
        $i++ while $i < @$cmds && $cmds->[$i] !~ $pattern;
        if ($i >= @$cmds) { fail("$name: printed, in order"); $i = $from; next }
        $check->($out->[$i] // '', $name);
        $i++;
    }
}
sub status_is {
    my ($code, %o) = @_;
    return sub {
        my ($text, $name) = @_;
        like($text, qr/ -> $code\n\z/, "$name: $code") or diag($text);
        like($text, $o{like}, "$name: $o{what}") if $o{like};
    };
}

sub leftovers {
    my @left;
    for my $f (glob '/proc/[0-9]*/cmdline') {
        my $cmd = slurp($f);
        $cmd =~ tr/\0/ /;
        push @left, $cmd if index($cmd, $state) >= 0 || $cmd =~ /ws-human\.mjs .*\Q$ports{PORT}\E/;
    }
    for my $name (sort keys %ports) {
        next unless IO::Socket::INET->new("127.0.0.1:$ports{$name}");
        # (prove -j2: another test's server may have drawn the same free
        # port since; a listener counts when it is the stack's own)
        my @who = listeners($ports{$name});
        push @left, "a listener on $name $ports{$name}" if !@who || grep { index($_, $state) >= 0 || / \Q$ports{$name}\E\b/ } @who;
    }
    return @left;
}

# The command lines of the processes listening on TCP `port` (from
# /proc/net/tcp*, the socket inodes, and every process's fds).
sub listeners {
    my ($port) = @_;
    my %inodes;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        while (<$fh>) {
            my @f = split;
            next unless @f > 9 && $f[3] eq '0A' && $f[1] =~ /:([0-9A-F]{4})$/ && hex($1) == $port;
            $inodes{$f[9]} = 1;
        }
    }
    my @cmds;
    for my $dir (glob '/proc/[0-9]*') {
        opendir my $fds, "$dir/fd" or next;
        for my $fd (readdir $fds) {
            my $link = readlink "$dir/fd/$fd" // next;
            next unless $link =~ /^socket:\[(\d+)\]$/ && $inodes{$1};
            (my $cmd = slurp("$dir/cmdline")) =~ tr/\0/ /;
            push @cmds, " $cmd ";
            last;
        }
    }
    return @cmds;
}

my %users;
for my $round (1, 2) {
    if ($round == 2) {
        # A certificate that does not name localhost is made again.
        system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 -subj /CN=example.com "
               . "-addext subjectAltName=DNS:example.com -keyout $state/tls/key.pem -out $state/tls/cert.pem 2>/dev/null") == 0
            or die 'openssl';
    }
    my $started = time;
    my ($rc, $out, $err) = run_sh();
    is($rc, 0, "round $round: run.sh starts") or BAIL_OUT("run.sh: $err\n$out");
    is($err, '', "round $round: nothing on stderr");
    like($out, qr/^==> profile development/m, "round $round: the development profile by default");
    like($out, qr/nginx rate limits 1000\/1m each \(production: .*login 5\/15m/, "round $round: which limits, and the production ones");
    like($out, qr/make run PROFILE=production/, "round $round: how to get the production limits");
    like(slurp("$state/nginx.conf"), qr/zone=login:10m rate=1000\/1m;/, "round $round: nginx.conf has the development limits");
    like(slurp("$state/nginx.conf"), qr/listen 127\.0\.0\.1:$ports{PORT} ssl/, "round $round: nginx on PORT");
    like(slurp("$state/authd.toml"), qr{^allowed_origins = \["https://localhost:$ports{PORT}"\]}m, "round $round: the origin follows PORT");
    like(slurp("$state/authd.toml"), qr{^redirect_uri = "https://localhost:$ports{PORT}/api/v1/oauth/dev/callback"}m,
         "round $round: the redirect_uri follows PORT");
    if ($round == 2) {
        like($out, qr/^==> renewing the TLS certificate: its subjectAltName/m, 'round 2: a certificate with other names is renewed');
        like(`openssl x509 -in $state/tls/cert.pem -noout -ext subjectAltName`, qr/DNS:localhost/, 'round 2: it names localhost');
    }
    like($out, qr/\(stop it with 'make stop SPA_STATE=\Q$state\E', wipe its state with 'make reset SPA_STATE=\Q$state\E'\)/,
         "round $round: how to stop this one");
    like(`curl -sk -o /dev/null -w '%{redirect_url}' https://localhost:$ports{PORT}/api/v1/oauth/dev/start`,
         qr{^http://127\.0\.0\.1:$ports{OIDC_PORT}/auth\?.*redirect_uri=https%3A%2F%2Flocalhost%3A$ports{PORT}%2F},
         "round $round: the development OpenID provider on OIDC_PORT, back to PORT");
    my ($email) = $out =~ /^==> walk-through: .* as (dev-[0-9a-f]+\@example\.com);/m;
    ok($email, "round $round: a new user, $email") or BAIL_OUT($out);
    ok(!$users{$email}++, "round $round: not one of an earlier round");
    (my $user = $email // '') =~ s/\@.*//;

    my @cmds = commands($out, 'walk-through', 'the first administrator', 'more to try');
    unlike("@cmds", qr/localhost:8443/, "round $round: every command on PORT");
    my ($outs, $ws, $all) = follow(@cmds);
    check_steps($round, \@cmds, $outs,
        ['sign up', qr{/auth/signup}, status_is(201)],
        ['confirm the address', qr{/verify-email/confirm}, status_is(200)],
        ['log in', qr{/auth/login}, status_is(200)],
        ['the demo service', qr{api \S+/api/v1/demo/hello}, status_is(200, like => qr/"X-User-Email": "\Q$email\E"/, what => 'X-User-Email')],
        ['refresh', qr{/auth/refresh}, status_is(200)],
        ['the WebSocket', qr{ws-client\.mjs --human}, sub { }],
        ['log out', qr{/auth/logout}, status_is(200)],
        ['the old token', qr{Bearer \$TOKEN.*/demo/hello}, status_is(401, like => qr/"invalid_token"/, what => 'invalid_token')],
        ['users set-role', qr{spa-authd users set-role \Q$email\E admin --config \Q$state\E/authd\.toml},
         sub { like($_[0], qr/is now admin/, "$_[1]: against the running spa-authd") }],
        ['log in again, with MFA', qr{/mfa/verify-backup}, status_is(200)],
        ['the administration API', qr{/admin/users}, status_is(200, like => qr/"email":"\Q$email\E".*"role":"admin"/, what => 'an admin')],
        ['a password reset', qr{/password-reset/request}, status_is(202)],
        ['its link', qr{/password-reset/confirm}, status_is(200)],
        ['the new password', qr{/auth/login .*a new long dev password}, status_is(200)],
    );
    like(slurp((glob "$state/mail/*.eml")[0] // '/dev/null'), qr{https://localhost:$ports{PORT}/verify-email#token=},
         "round $round: the mailed link is on PORT");
    is(scalar @$ws, 3, "round $round: the WebSocket client printed three lines") or diag($all);
    is($ws->[0], "[ws] greeted as $user, echoed \"$user: hello\"", "round $round: the WebSocket greeted and echoed");
    like($ws->[1] // '', qr/^\[ws\] the socket stays open in the background/, "round $round: then stayed open");
    like($ws->[2] // '', qr/^\[ws\] closed 4401 session revoked/, "round $round: and closed 4401 session revoked after the logout");
    note(sprintf('round %d: %.1f s', $round, time - $started));
}

# A certificate that expires within a day is renewed too.
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=localhost "
       . "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout $state/tls/key.pem -out $state/tls/cert.pem 2>/dev/null") == 0
    or die 'openssl';
my ($rc, $out, $err) = run_sh(PROFILE => 'production');
is($rc, 0, 'PROFILE=production starts');
like($out, qr/^==> renewing the TLS certificate: it expires within a day/m, 'an expiring certificate is renewed');
system("openssl x509 -in $state/tls/cert.pem -noout -checkend 86400 >/dev/null") == 0 or fail('the new one lasts');
like($out, qr/^==> production limits \(conf\/\): nginx .*login 5\/15m/m, 'PROFILE=production says its limits');
like(slurp("$state/nginx.conf"), qr/zone=login:10m rate=5\/15m;/, 'and nginx.conf keeps them');

# A busy port: one line, naming the port and who holds it; the stack
# started above is stopped, nothing new starts.
my $holder = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0) or die "listen: $!";
my $busy = $holder->sockport;
($rc, $out, $err) = run_sh(OIDC_PORT => $busy);
isnt($rc, 0, 'a busy port: run.sh fails');
like($err, qr/\Aspa-auth did not start: port $busy \(the OpenID provider, OIDC_PORT\) is in use by perl \(pid $$\); .*OIDC_PORT=\d+\n\z/,
     'in one line: which port, who holds it, what to do') or diag($err);
close $holder;
is_deeply([leftovers()], [], 'nothing left running');

# nginx that will not start (a module it cannot load), after spa-authd and
# the peers have started: one line, and all of them are stopped again.
my $broken = "$tmp/broken-build";
mkdir $broken;
symlink(SpaAuth::Test::build_dir() . "/$_", "$broken/$_") or die for qw(spa-authd spa-demo-echo);
SpaAuth::Test::write_file("$broken/ngx_http_spa_auth_module.so", '');
($rc, $out, $err) = run_sh(SPA_BUILD => $broken);
isnt($rc, 0, 'nginx fails: run.sh fails');
like($out, qr/^==> spa-authd on .*^==> demo service on/ms, 'after starting spa-authd and the peers');
like($err, qr/\Aspa-auth did not start: nginx refused \S+: \[emerg\] dlopen\(\) "\Q$broken\E\/ngx_http_spa_auth_module\.so" failed.*\n\z/,
     'in one line: nginx says why') or diag($err);
is_deeply([leftovers()], [], 'nothing left running');

# The state directory is root's to write and run: one that someone else
# owns, that others may write, or a symbolic link is refused before
# anything is written into it.
{
    my $theirs = "$tmp/theirs";
    mkdir $theirs;
    chown 65534, 65534, $theirs if $> == 0;
    chmod 0777, $theirs if $> != 0;    # not root: "others may write" is what it shows
    ($rc, $out, $err) = run_sh(SPA_STATE => $theirs);
    isnt($rc, 0, 'a state directory of another user (or writable by others): refused');
    like($err, qr/\Aspa-auth did not start: SPA_STATE=\Q$theirs\E is not a directory of yours that only you may write/, '... saying why');
    opendir my $d, $theirs or die;
    is_deeply([grep { !/^\.\.?$/ } readdir $d], [], '... and nothing is written into it');
    mkdir "$tmp/real";
    symlink("$tmp/real", "$tmp/link") or die;
    ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/link");
    like($err, qr/SPA_STATE=\Q$tmp\E\/link is, or is under, a symbolic link/, 'a symbolic link: refused');
    ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/link/");
    like($err, qr/SPA_STATE=\Q$tmp\E\/link is, or is under, a symbolic link/, '... with a trailing slash too');
    mkdir "$tmp/real/sub";
    ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/link/sub");
    like($err, qr/SPA_STATE=\Q$tmp\E\/link\/sub is, or is under, a symbolic link/, '... and a directory under one');
    mkdir "$tmp/open";
    chmod 0777, "$tmp/open";
    ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/open/state");
    like($err, qr/\Q$tmp\E\/open, above SPA_STATE=\Q$tmp\E\/open\/state, may be changed by another user/,
         'a directory above it that others may write: refused');
    ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/new/state");
    is($rc, 0, 'a new state directory works') or diag($err);
    is(sprintf('%o', (stat "$tmp/new/state")[2] & 07777), $> == 0 ? '710' : '700', '... and others may not enter it (nginx\'s group may pass through)');
    is(sprintf('%o', (stat "$tmp/new/state/$_")[2] & 07777), '700', "... nor its $_/") for qw(mail logs tls curl);
    system("SPA_STATE=$tmp/new/state scripts/stop.sh --quiet");
    if ($> == 0) {
        mkdir "$tmp/closed", 0700;
        ($rc, $out, $err) = run_sh(SPA_STATE => "$tmp/closed/state");
        like($err, qr/nginx's workers \(www-data\) cannot pass through a directory above \Q$tmp\E\/closed\/state/,
             'a directory above it closed to nginx\'s workers: said so at once');
    }
    # reset.sh removes only a state directory of make run.
    mkdir "$tmp/project";
    SpaAuth::Test::write_file("$tmp/project/important.txt", "x\n");
    $out = `SPA_STATE=$tmp/project scripts/reset.sh 2>&1`;
    isnt($?, 0, 'reset of a directory make run did not make: refused');
    ok(-f "$tmp/project/important.txt", '... and nothing is removed');
}

# stop.sh stops only what run.sh started: a pid file naming a process of
# the same program started otherwise (another stack's) is left alone.
{
    my $pid = fork // die;
    if ($pid == 0) { exec SpaAuth::Test::build_dir() . '/spa-demo-echo', '--port', free_port() or POSIX::_exit(1) }
    sleep 0.3;
    mkdir "$tmp/fake";
    mkdir "$tmp/fake/run";
    SpaAuth::Test::write_file("$tmp/fake/run/demo.pid", "$pid\n");
    system("SPA_STATE=$tmp/fake scripts/stop.sh --quiet");
    ok(kill(0, $pid), 'a spa-demo-echo that run.sh did not start is not stopped');
    SpaAuth::Test::write_file("$tmp/fake/run/demo.pid", "$pid 1\n");
    system("SPA_STATE=$tmp/fake scripts/stop.sh --quiet");
    ok(kill(0, $pid), '... nor with another start time in its pid file');
    kill 'TERM', $pid;
    waitpid $pid, 0;
}

# make reset: stops and removes the state, saying what.
($rc, $out, $err) = run_sh();
is($rc, 0, 'started again');
$out = `SPA_STATE=$state scripts/reset.sh 2>&1`;
is($?, 0, 'reset');
like($out, qr/^==> stopping nginx$/m, 'reset stops the stack');
like($out, qr/^==> removed \Q$state\E: the store and signing keys.*the TLS certificate/m, 'and says what it removed');
ok(!-e $state, 'the state is gone');
is_deeply([leftovers()], [], 'nothing left running');
done_testing();
