# kill -9 of spa-authd under sign-up, login AND refresh-rotation load loses
# nothing that was answered: every user whose sign-up got 201 logs in after
# the restart, and the newest refresh token each client received (the one a
# 200 handed it) still refreshes. The rotation cut off by the kill may have
# been committed without its answer reaching the client; docs/authd.md
# ("Tokens and sessions") says a second use within refresh_grace returns the
# same successor pair, so the retry of that token after the restart is a 200
# too (the grace is 60 s here so that a slow restart stays inside it).
# The older tokens of a chain were spent by the client itself: their use
# after the grace window is reuse and ends the family, so only the newest
# of each chain is a token that must still work.
# While spa-authd is down: its paths answer 502 in the JSON envelope (the
# shipped conf/nginx.conf's error_page and @bad_gateway, taken from the file),
# protected locations keep serving valid access tokens (the module needs no
# spa-authd), and a session revoked before the kill stays refused (the
# module reads the store itself).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep time);
use POSIX ();

# What a user gets for a dead upstream: the shipped configuration's lines.
my $shipped = do { local $/; open my $fh, '<', 'conf/nginx.conf' or die; <$fh> };
my ($bad_gateway) = $shipped =~ /^(\s*location \@bad_gateway \{.*?^\s*\})/ms or die 'no @bad_gateway in conf/nginx.conf';
my ($error_page) = $shipped =~ /^\s*(error_page 502 \@bad_gateway;)/m or die 'no error_page 502 in conf/nginx.conf';

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my %authd = (mode => 'bearer', grace => 60);
start_authd(%authd);
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;
                    spa_auth_issuer https://app.example.com; spa_auth_audience spa;',
    config => "$error_page
               location /api/ { spa_auth_pass_token on; proxy_pass http://unix:\@DIR\@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:\@ECHO_PORT\@; }
               $bad_gateway",
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub api { my ($path, $body, @headers) = @_; json_request(POST => $path, $body, @headers) }
sub svc { http_request('GET /svc/x', "Authorization: Bearer $_[0]")->{status} }
sub pw { "pw for $_[0]" }

# A session revoked before the kill.
my $gone = do {
    api('/api/v1/auth/signup', { email => 'gone@example.com', username => 'gone', password => pw('gone@example.com') });
    api('/api/v1/auth/login', { email => 'gone@example.com', password => pw('gone@example.com') })->{json}{data};
};
is(api('/api/v1/auth/logout', undef, "Authorization: Bearer $gone->{access_token}")->{status}, 200, 'a session logged out before the load');
is(svc($gone->{access_token}), 401, 'and refused');

# Four clients: each signs up a user, logs in, rotates the refresh token
# eight times, and starts again with a new user; every answer is a line.
# A client stops at its first answer that is not a success.
my @kids;
for my $client (1 .. 4) {
    my $pid = fork // die;
    if ($pid == 0) {
        open my $log, '>', "$dir/client$client.txt" or die;
        $log->autoflush(1);
        for my $n (1 .. 50) {
            my $email = "c${client}u$n\@example.com";
            my $s = api('/api/v1/auth/signup', { email => $email, username => "c${client}u$n", password => pw($email) });
            print $log "signup $email $s->{status}\n";
            POSIX::_exit(0) unless $s->{status} == 201;
            my $l = api('/api/v1/auth/login', { email => $email, password => pw($email) });
            my $d = $l->{json}{data} // {};
            print $log "login $email $l->{status} " . ($d->{access_token} // '-') . ' ' . ($d->{refresh_token} // '-') . "\n";
            POSIX::_exit(0) unless $l->{status} == 200;
            my $rt = $d->{refresh_token};
            for (1 .. 8) {
                my $r = api('/api/v1/auth/refresh', { refresh_token => $rt });
                my $rd = $r->{json}{data} // {};
                print $log "refresh $email $r->{status} " . ($rd->{access_token} // '-') . ' ' . ($rd->{refresh_token} // '-') . "\n";
                POSIX::_exit(0) unless $r->{status} == 200;
                $rt = $rd->{refresh_token};
            }
        }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

sub client_lines { map { my $f = "$dir/client$_.txt"; -e $f ? do { open my $fh, "<", $f or die; <$fh> } : () } 1 .. 4 }
# The kill comes once the load is under way: polled, at most 60 s.
my $t0 = time;
sleep 0.05 while time - $t0 < 60 && (grep { /^refresh \S+ 200 / } client_lines()) < 80;
stop_authd('KILL');
waitpid($_, 0) for @kids;

my (%signup, %chain, $rotations);
for my $line (client_lines()) {
    my ($what, $email, $status, $at, $rt) = split ' ', $line;
    if ($what eq 'signup') { $signup{$email} = $status; next }
    next unless $status == 200;
    $rotations++ if $what eq 'refresh';
    $chain{$email} = { at => $at, rt => $rt };  # the newest pair each user was handed
}
my @created = sort grep { $signup{$_} == 201 } keys %signup;
cmp_ok($rotations // 0, ">=", 80, "rotations answered before the kill ($rotations)");
my @cut = grep { !/^(signup \S+ 201|login \S+ 200|refresh \S+ 200)\b/ } client_lines();
is(scalar @cut, 4, "each client had a request cut off by the kill") or diag(join "", map { s/ \S{40,}/ TOKEN/gr } @cut);

step 'spa-authd down: its paths answer 502 in the envelope, the module goes on' => sub {
    for my $case (['/api/v1/auth/login', { email => 'c1u1@example.com', password => pw('c1u1@example.com') }],
                  ['/api/v1/auth/refresh', { refresh_token => $chain{(sort keys %chain)[0]}{rt} }]) {
        my ($path, $body) = @$case;
        my $r = api($path, $body);
        is($r->{status}, 502, "$path: 502");
        is($r->{headers}{'content-type'}[0], 'application/json', "$path: application/json");
        is($r->{json}{success}, JSON::PP::false, "$path: the envelope");
        is($r->{json}{error}{code}, 'service_unavailable', "$path: service_unavailable");
        like($r->{json}{meta}{requestId} // '', qr/^[0-9a-f]{32}$/, "$path: meta.requestId");
    }
    my %seen;
    $seen{svc($chain{$_}{at})}++ for sort keys %chain;
    is_deeply(\%seen, { 200 => scalar keys %chain }, 'every newest access token still passes the module (' . scalar(keys %chain) . ')');
    is(svc($gone->{access_token}), 401, 'the session revoked before the kill stays refused');
};

step 'after the restart: nothing answered is lost' => sub {
    start_authd(%authd);
    for my $email (@created) {
        my $r = api('/api/v1/auth/login', { email => $email, password => pw($email) });
        is($r->{status}, 200, "user $email (sign-up answered 201) logs in") or diag($r->{body});
    }
    for my $email (sort keys %chain) {
        my $r = api('/api/v1/auth/refresh', { refresh_token => $chain{$email}{rt} });
        is($r->{status}, 200, "the newest refresh token handed to $email still refreshes") or diag($r->{body});
        is(svc($r->{json}{data}{access_token} // '-'), 200, "and its new access token passes");
    }
    is(svc($gone->{access_token}), 401, 'the revoked session is still refused');
    is(api('/api/v1/auth/refresh', { refresh_token => $gone->{refresh_token} })->{status}, 401, 'and its refresh token dead');
};

stop_authd('TERM');
stop_nginx();
my $log = do { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> };
my @secrets = grep { $_ ne '-' && index($log, $_) >= 0 } map { @{$_}{qw(at rt)} } values %chain;
is(scalar @secrets, 0, 'no token in the spa-authd log');
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nginx: nothing worse than the failed upstream');
done_testing();
