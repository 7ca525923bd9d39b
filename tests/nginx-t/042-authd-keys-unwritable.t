# spa-authd's key directory when it cannot be written, or is not what it
# was, while a rotation is due (`spa-authd keys rotate`, the only trigger:
# docs/authd.md "Signing keys"). The tests run as root, for whom chmod
# changes nothing, so the directory is made unwritable in ways that stop
# root too: `chattr +i` (immutable: no file may be created, renamed or
# removed in it; ext4 under /tmp here, checked first) and the directory
# replaced by a plain file. Through each: the rotation fails with a clear
# message and changes nothing, the running daemon keeps signing with its
# current key and answering, says so once in its log (not once a second),
# and a later rotation, once the directory is back, works and is picked up.
# A key directory swapped for an empty one must not make the running
# daemon start over with a new key (which would unpublish the old one and
# refuse every access token it signed).
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use MIME::Base64 qw(decode_base64url);
use Test::More;
use Time::HiRes qw(sleep time);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $keys = "$dir/authd/keys";
my $authd = build_dir() . '/spa-authd';
END { system('chattr', '-i', $keys) if $keys && -d $keys }  # or the temp dir cannot be removed

{
    mkdir "$dir/probe" or die;
    my $immutable = system("chattr +i $dir/probe 2>/dev/null") == 0 && !open(my $fh, '>', "$dir/probe/x");
    system("chattr -i $dir/probe 2>/dev/null");
    plan skip_all => 'chattr +i does not stop this user on this file system' unless $immutable;
}

start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;
                    spa_auth_issuer https://app.example.com; spa_auth_audience spa;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub kid_in { decode_json(decode_base64url((split /\./, $_[0])[0]))->{kid} }
sub svc { http_request('GET /svc/x', "Authorization: Bearer $_[0]")->{status} }
sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or die; <$fh> }
sub reload_failures { my @l = authd_log() =~ /"event":"keys_reload_failed"/g; scalar @l }
sub rotate { my $o = `$authd keys rotate --config $dir/authd.toml 2>&1`; ($? >> 8, $o) }
sub listing { join ' ', sort map { s{.*/}{}r } glob("$keys/*"), glob("$keys/.[!.]*") }
sub jwks_kids { join ' ', sort map { $_->{kid} } @{ decode_json(do { local $/; open my $fh, '<', "$dir/authd/jwks.json" or die; <$fh> })->{keys} } }

json_request(POST => '/api/v1/auth/signup', { email => 'kim@example.com', username => 'kim', password => 'kim password!' });
my $session = json_request(POST => '/api/v1/auth/login', { email => 'kim@example.com', password => 'kim password!' })->{json}{data};
my $rt = $session->{refresh_token};
my $k1 = kid_in($session->{access_token});
my @old_tokens = ($session->{access_token});
# Refreshes for a while (spanning several of the daemon's once-a-second
# looks at its key schedule): every answer 200, every token signed by $kid.
sub refreshes_sign_with {
    my ($kid, $what) = @_;
    my (%status, %kids);
    my $t0 = time;
    while (time - $t0 < 2.5) {
        my $r = json_request(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
        $status{ $r->{status} }++;
        next unless $r->{status} == 200;
        $rt = $r->{json}{data}{refresh_token};
        $kids{ kid_in($r->{json}{data}{access_token}) }++;
        push @old_tokens, $r->{json}{data}{access_token};
        sleep 0.2;
    }
    is_deeply([keys %status], [200], "$what: spa-authd answers every refresh");
    is_deeply([keys %kids], [$kid], "$what: and signs with the current key");
    is(svc($old_tokens[-1]), 200, "$what: its tokens pass the module");
}

step 'key directory immutable (chattr +i)' => sub {
    my $before = listing();
    system('chattr', '+i', $keys) == 0 or die;
    my ($rc, $msg) = rotate();
    isnt($rc, 0, 'keys rotate fails');
    like($msg, qr/key rotation failed: .*\Q$keys\E.*Operation not permitted/, 'and says where and why');
    refreshes_sign_with($k1, 'immutable');
    system('chattr', '-i', $keys) == 0 or die;
    is(listing(), $before, 'nothing was left in the directory');
};

step 'key directory replaced by a file' => sub {
    my $before = reload_failures();
    rename $keys, "$keys.real" or die;
    write_file($keys, "not a directory\n");
    my ($rc, $msg) = rotate();
    isnt($rc, 0, 'keys rotate fails');
    like($msg, qr/key rotation failed: \Q$keys\E exists and is not a directory/, 'and says why');
    refreshes_sign_with($k1, 'replaced by a file');
    is(reload_failures() - $before, 1, 'the daemon logs that it cannot read its keys once, not every second');
    unlink $keys or die;
    rename "$keys.real", $keys or die;
};

my $k2;
step 'directory back: the rotation works and is picked up' => sub {
    my ($rc, $msg) = rotate();
    is($rc, 0, 'keys rotate succeeds') or diag($msg);
    ($k2) = $msg =~ /published key (\S+);/;
    my ($signed, $t0) = (undef, time);
    while (time - $t0 < 15) {
        my $r = json_request(POST => '/api/v1/auth/refresh', { refresh_token => $rt });
        $rt = $r->{json}{data}{refresh_token} // $rt;
        if ($r->{status} == 200 && kid_in($r->{json}{data}{access_token}) eq ($k2 // '')) { $signed = $r->{json}{data}{access_token}; last }
        sleep 0.25;
    }
    ok($signed, 'the daemon signs with the new key once it is due');
    is(svc($signed // '-'), 200, 'the new token passes the module');
    my %old;
    $old{ svc($_) }++ for @old_tokens;
    is_deeply(\%old, { 200 => scalar @old_tokens }, 'every token of the old key still passes');
};

step 'key directory swapped for an empty one' => sub {
    my $before = reload_failures();
    my $published = jwks_kids();
    rename $keys, "$keys.real" or die;
    mkdir $keys, 0700 or die;
    refreshes_sign_with($k2, 'empty directory');
    is(jwks_kids(), $published, 'the published keys are unchanged');
    is(svc($old_tokens[0]), 200, 'a token of the first key still passes');
    is(listing(), '', 'no new key was made in the empty directory');
    is(reload_failures() - $before, 1, 'the daemon says once that its schedule is gone');
    system('rm', '-rf', $keys) == 0 or die;
    rename "$keys.real", $keys or die;
};

is(stop_authd('TERM'), 0, 'spa-authd stops cleanly');
my $log = authd_log();
unlike($log, qr/\Q$rt\E/, 'no refresh token in the log');
stop_nginx();
unlike(error_log_text(), qr/\[(alert|crit|emerg)\]/, 'nginx error log clean');
done_testing();
