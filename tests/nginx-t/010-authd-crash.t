# kill -9 of spa-authd under sign-up and login load loses no committed user
# or session, and never leaves half a user.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);
use POSIX ();

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { my ($path, $body, @headers) = @_; json_request(POST => $path, $body, @headers) }

# Four clients sign up and log in users until told to stop; each records
# what the server answered, one line per step.
my @kids;
for my $client (1 .. 4) {
    my $pid = fork // die;
    if ($pid == 0) {
        open my $log, '>', "$dir/client$client.txt" or die;
        $log->autoflush(1);
        for my $n (1 .. 40) {
            my $email = "c${client}u$n\@example.com";
            my $s = api('/api/v1/auth/signup', { email => $email, username => "c${client}u$n", password => "pw for $email" });
            print $log "signup $email $s->{status}\n";
            next unless $s->{status} == 201;
            my $l = api('/api/v1/auth/login', { email => $email, password => "pw for $email" });
            print $log "login $email $l->{status} " . ($l->{json}{data}{access_token} // '-') . "\n";
        }
        POSIX::_exit(0);
    }
    push @kids, $pid;
}

sleep 1.5;
stop_authd('KILL');
waitpid($_, 0) for @kids;

my (%signup, %login);
for my $client (1 .. 4) {
    open my $fh, '<', "$dir/client$client.txt" or die;
    while (<$fh>) {
        my ($what, $email, $status, $token) = split;
        ($what eq 'signup' ? \%signup : \%login)->{$email} = [$status, $token];
    }
}
my @created = grep { $signup{$_}[0] == 201 } keys %signup;
my @sessions = grep { $login{$_}[0] == 200 } keys %login;
cmp_ok(scalar @created, '>=', 4, 'some sign-ups committed before the kill (' . scalar(@created) . ')');
cmp_ok(scalar(keys %signup), '>', scalar @created, 'some requests were cut off by the kill');

start_authd(mode => 'bearer');
for my $email (sort @created) {
    my $r = api('/api/v1/auth/login', { email => $email, password => "pw for $email" });
    is($r->{status}, 200, "committed user $email can log in after the crash") or diag($r->{body});
}
for my $email (sort @sessions) {
    my $r = http_request('GET /svc/x', "Authorization: Bearer $login{$email}[1]");
    is($r->{status}, 200, "committed session of $email still valid after the crash");
}
# Sign-ups that got no answer are all or nothing: the user either logs in
# or can sign up afresh — never "taken" but unable to log in.
for my $email (sort grep { $signup{$_}[0] != 201 } keys %signup) {
    my $l = api('/api/v1/auth/login', { email => $email, password => "pw for $email" });
    next if $l->{status} == 200;
    (my $name = $email) =~ s/\@.*//;
    my $s = api('/api/v1/auth/signup', { email => $email, username => $name, password => "pw for $email" });
    is($s->{status}, 201, "unanswered sign-up of $email left nothing half-done");
}
stop_authd('TERM');
stop_nginx();
done_testing();
