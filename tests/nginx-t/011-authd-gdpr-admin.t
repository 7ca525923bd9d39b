# GDPR access and erasure, and administration: role changes and disabling
# take effect in the module on the next request.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use JSON::PP;
use Test::More;

plan skip_all => 'oathtool not installed' unless -x '/usr/bin/oathtool';

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
start_authd(mode => 'bearer');
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    http_config => 'spa_auth_jwks_file @DIR@/authd/jwks.json; spa_auth_session_store @DIR@/authd/store;',
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; proxy_set_header X-Real-IP $remote_addr; }
               location /svc/ { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; add_header X-Result $spa_auth_result always; }',
);
ok($ok, 'nginx starts') or diag($out);

sub api { my ($method, $path, $body, @headers) = @_; json_request($method, $path, $body, 'User-Agent: test-agent/1.0', @headers) }
sub code { error_of(@_) }
sub svc { my $r = http_request('GET /svc/x', "Authorization: Bearer $_[0]"); "$r->{status} " . ($r->{headers}{'x-result'}[0] // '') }
sub user {
    my ($name) = @_;
    my $email = "$name\@example.com";
    api(POST => '/api/v1/auth/signup', { email => $email, username => $name, password => "$name secret pw" });
    my $d = api(POST => '/api/v1/auth/login', { email => $email, password => "$name secret pw" })->{json}{data};
    return { %$d, email => $email, password => "$name secret pw", auth => "Authorization: Bearer $d->{access_token}" };
}

my $alice = user('alice');
my $bob = user('bob');
my $carol = user('carol');

my ($e, $r);
step 'export' => sub {
    $r = api(GET => '/api/v1/auth/export', undef, $alice->{auth});
    is($r->{status}, 200, 'export: 200');
    $e = $r->{json}{data};
    is($e->{account}{email}, 'alice@example.com', 'export has the account');
    unlike($r->{body}, qr/\$argon2id\$/, 'export never contains the password hash');
    is(scalar @{ $e->{sessions} }, 1, 'export has the session');
    is($e->{sessions}[0]{user_agent}, 'test-agent/1.0', 'with what we stored about it');
    is($e->{sessions}[0]{ip}, '127.0.0.1', 'including the address');
    is_deeply([sort map { $_->{event} } @{ $e->{events} }], [qw(login signup)], 'and the audit events about the user');
    is(code(api(GET => '/api/v1/auth/export')), '401 invalid_token', 'export needs a token');
};

step 'erasure' => sub {
    is(code(api(DELETE => '/api/v1/auth/account', { password => 'wrong one' }, $alice->{auth})), '401 invalid_credentials',
       'deletion needs the password');
    is(code(api(DELETE => '/api/v1/auth/account', { password => 7 }, $alice->{auth})), '400 validation_failed', 'password must be a string');
    is(svc($alice->{access_token}), '200 ok', 'account intact after refused deletion');
    $r = api(DELETE => '/api/v1/auth/account', { password => $alice->{password} }, $alice->{auth});
    is($r->{status}, 200, 'deletion: 200');
    is(svc($alice->{access_token}), '401 revoked', 'deleted account: token refused on the next request');
    is(code(api(POST => '/api/v1/auth/refresh', { refresh_token => $alice->{refresh_token} })), '401 invalid_token', 'refresh token gone');
    # Every database of the store, dumped by LMDB's own tool: nothing of alice.
    my $dump = `mdb_dump -a -p $dir/authd/store/private 2>&1` . `mdb_dump -a -p $dir/authd/store 2>&1`;  # the store, then the mirror
    is($? >> 8, 0, 'mdb_dump reads the store') or diag($dump);
    like($dump, qr/bob\@example\.com/, 'the dump holds the other users');
    for my $trace ($e->{account}{id}, 'alice@example.com', $e->{account}{audit_id} // ()) {
        unlike($dump, qr/\Q$trace\E/i, "no database holds $trace after the erasure");
    }
    # The session's id stays only as the key of a revoked record of no one
    # in the sessions table (the sweeper deletes it once its tokens have
    # expired): never next to anything of alice's.
    my @holding = map { /^database=(\S+)/ ? $1 : '?' } grep { /\Q$alice->{session_id}\E/ } split /(?=^database=)/m, $dump;
    is_deeply([sort @holding], [qw(sessions sessions)], 'the session id: only in the sessions table (store and mirror)');
    is(code(api(POST => '/api/v1/auth/login', { email => $alice->{email}, password => $alice->{password} })),
       '401 invalid_credentials', 'cannot log in');
    is(api(POST => '/api/v1/auth/signup', { email => $alice->{email}, username => 'alice', password => 'a new pw 123' })->{status},
       201, 'e-mail and username free again');
};

step 'administration' => sub {
    is(code(api(GET => '/api/v1/admin/users', undef, $bob->{auth})), '403 forbidden', 'not an admin: 403');
    my $cli = `@{[ build_dir() ]}/spa-authd users set-role bob\@example.com admin --config $dir/authd.toml 2>&1`;
    is($? >> 8, 0, 'set-role from the CLI while the daemon runs') or diag($cli);
    # A role change reaches the proxy at once: bob's token (role "user") stops
    # passing; his next refresh carries the new role.
    is(svc($bob->{access_token}), '401 revoked', 'token issued before the role change: refused by the module');
    my $promoted = api(POST => '/api/v1/auth/refresh', { refresh_token => $bob->{refresh_token} })->{json}{data};
    $bob = { %$bob, %$promoted, auth => "Authorization: Bearer $promoted->{access_token}" };
    is(svc($bob->{access_token}), '200 ok', 'the refreshed token passes');
    # An administrator's password alone does not administer: the session must
    # have passed a second factor ([security] admin_require_mfa, the default).
    is(code(api(GET => '/api/v1/admin/users', undef, $bob->{auth})), '403 mfa_required', 'admin without a second factor: 403');
    is(code(api(PATCH => '/api/v1/admin/users/' . ('0' x 32), { disabled => JSON::PP::true }, $bob->{auth})), '403 mfa_required',
       'nor any change');
    my $secret = api(POST => '/api/v1/mfa/setup', {}, $bob->{auth})->{json}{data}{secret};
    sub oath { my $at = time + ($_[1] // 0); chomp(my $c = `oathtool --totp --base32 -N \@$at $_[0]`); $c }
    is(api(POST => '/api/v1/mfa/enable', { code => oath($secret) }, $bob->{auth})->{status}, 200, 'bob turns TOTP on');
    my $gate = api(POST => '/api/v1/auth/login', { email => $bob->{email}, password => $bob->{password} })->{json}{data};
    my $second = api(POST => '/api/v1/mfa/verify', { mfa_token => $gate->{mfa_token}, code => oath($secret, 30) })->{json}{data};
    ok($second->{access_token}, 'and signs in with both factors') or diag(explain($second));
    $bob = { %$bob, %$second, auth => "Authorization: Bearer $second->{access_token}" };
    $r = api(GET => '/api/v1/admin/users?limit=2', undef, $bob->{auth});
    is($r->{status}, 200, 'admin: list users');
    is(scalar @{ $r->{json}{data}{users} }, 2, 'limit respected');
    ok($r->{json}{data}{next}, 'with a cursor for the next page');
    my $page2 = api(GET => "/api/v1/admin/users?limit=2&after=$r->{json}{data}{next}", undef, $bob->{auth});
    is(scalar @{ $page2->{json}{data}{users} }, 1, 'second page');
    my %all = map { $_->{email} => $_ } @{ $r->{json}{data}{users} }, @{ $page2->{json}{data}{users} };
    ok($all{'carol@example.com'}, 'carol listed');
    unlike($r->{body} . $page2->{body}, qr/argon2/, 'no password hashes in the list');

    my $carol_id = $all{'carol@example.com'}{id};
    is(code(api(PATCH => "/api/v1/admin/users/$carol_id", { password => 'x' }, $bob->{auth})), '400 validation_failed', 'unknown field: 400');
    is(code(api(PATCH => "/api/v1/admin/users/$carol_id", { role => 'root' }, $bob->{auth})), '400 validation_failed', 'unknown role: 400');
    is(code(api(PATCH => '/api/v1/admin/users/' . ('0' x 32), { disabled => JSON::PP::true }, $bob->{auth})), '404 not_found', 'unknown user: 404');
    my $bob_id = api(GET => '/api/v1/auth/me', undef, $bob->{auth})->{json}{data}{user}{id};
    is(code(api(PATCH => "/api/v1/admin/users/$bob_id", { disabled => JSON::PP::true }, $bob->{auth})), '400 validation_failed', 'no self-disable');

    is(svc($carol->{access_token}), '200 ok', 'carol works before');
    $r = api(PATCH => "/api/v1/admin/users/$carol_id", { disabled => JSON::PP::true }, $bob->{auth});
    is($r->{status}, 200, 'disable carol');
    ok($r->{json}{data}{user}{disabled}, 'answer shows it');
    is(svc($carol->{access_token}), '401 revoked', 'disabled user: token refused on the next request, no reload');
    is(code(api(POST => '/api/v1/auth/login', { email => $carol->{email}, password => $carol->{password} })), '403 account_disabled',
       'disabled user cannot log in');
    is(code(api(POST => '/api/v1/auth/refresh', { refresh_token => $carol->{refresh_token} })), '401 invalid_token', 'nor refresh');
    $r = api(PATCH => "/api/v1/admin/users/$carol_id", { disabled => JSON::PP::false, role => 'admin' }, $bob->{auth});
    is($r->{json}{data}{user}{role}, 'admin', 're-enable and promote');
    is(api(POST => '/api/v1/auth/login', { email => $carol->{email}, password => $carol->{password} })->{status}, 200, 'carol logs in again');

    stop_authd('TERM');
};

stop_nginx();
done_testing();
