# Identity headers cannot be spoofed around the list: every client header
# with the identity prefix (X-User- by default once a claim header is set)
# is removed whatever its name, underscores read as dashes; a location's own
# spa_auth_claim_header list still strips the inherited names.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use IO::Socket::INET;
use POSIX ();

# An upstream that answers with the request head it received, byte for byte.
our $RAW = SpaAuth::Test::free_port();
my $listener = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => $RAW, ReuseAddr => 1)
    or die "listen: $!";
my $pid = fork // die;
if ($pid == 0) {
    while (my $c = $listener->accept) {
        my $head = '';
        while ($head !~ /\r\n\r\n/) { my $n = sysread($c, $head, 4096, length $head); last unless $n }
        $head =~ s/\r\n\r\n.*//s;
        print $c "HTTP/1.1 200 OK\r\nContent-Length: " . (length($head) + 1) . "\r\nConnection: close\r\n\r\n$head\n";
        close $c;
    }
    POSIX::_exit(0);
}
close $listener;
END { kill 'TERM', $pid if $pid }

run_blocks();

__DATA__

=== a spoofed X-User- header that no claim header names is removed (default prefix)
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-User-Sub sub;
--- config
location /t { spa_auth on; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Role: admin
x-user-email: boss@example.com
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body_like
^sub=alice\nemail=\nrole=\n

=== underscores: X_User_Sub is stripped when nginx lets it through
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
underscores_in_headers on;
location /echo { return 200 "sub=$http_x_user_sub role=$http_x_user_role\n"; }
location /t { spa_auth on; spa_auth_claim_header X-User-Sub sub; proxy_pass http://127.0.0.1:@PORT@/echo; }
--- more_headers
X_User_Sub: mallory
X_USER_ROLE: admin
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body
sub=alice role=

=== a location with its own list still strips the inherited names
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_claim_header X-Claim sub;
--- config
location /t {
    spa_auth on;
    spa_auth_identity_prefix off;
    spa_auth_claim_header X-User-Sub sub;
    proxy_pass http://127.0.0.1:@ECHO_PORT@;
}
--- more_headers
X-Claim: mallory
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body_like
^sub=alice\n.*claim=\n

=== spa_auth_identity_prefix at http level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
spa_auth_identity_prefix X-Claim;
--- config
location /t { spa_auth optional; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-Claim: mallory
X-User-Sub: kept
--- error_code: 200
--- response_body_like
^sub=kept\n.*claim=\n

=== spa_auth_identity_prefix at server level
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
spa_auth_identity_prefix X-Claim;
location /t { spa_auth optional; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-Claim: mallory
--- error_code: 200
--- response_body_like
claim=\n

=== spa_auth_identity_prefix at location level, also where spa_auth is off
--- config
location /t { spa_auth_identity_prefix X-Claim; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-Claim: mallory
--- error_code: 200
--- response_body_like
claim=\n

=== spa_auth_identity_prefix off below on
--- http_config
spa_auth_identity_prefix X-Claim;
--- config
location /t { spa_auth_identity_prefix off; proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-Claim: kept
--- error_code: 200
--- response_body_like
claim=kept\n

=== no claim header and no prefix: X-User- headers are the application's
--- config
location /t { proxy_pass http://127.0.0.1:@ECHO_PORT@; }
--- more_headers
X-User-Sub: kept
--- error_code: 200
--- response_body_like
^sub=kept\n

=== a bad prefix fails nginx -t
--- http_config
spa_auth_identity_prefix "X User";
--- must_die
--- error_log
spa_auth_identity_prefix: invalid header name prefix "X User"

=== spa_auth_identity_prefix twice
--- config
location /t { spa_auth_identity_prefix X-A-; spa_auth_identity_prefix X-B-; }
--- must_die
--- error_log
"spa_auth_identity_prefix" directive is duplicate

=== with ignore_invalid_headers off, X.User.Sub and x_user-role are stripped too
--- http_config
spa_auth_jwks_file @DATA@/jwks.json;
--- config
ignore_invalid_headers off;
location /t { spa_auth on; spa_auth_claim_header X-Claim sub; proxy_pass http://127.0.0.1:{{ $main::RAW }}; }
--- more_headers
X.User.Sub: mallory
x_user-role: admin
X-Keep: yes
Authorization: Bearer {{ mint(claims => { sub => 'alice' }) }}
--- error_code: 200
--- response_body_like
\A(?!.*mallory)(?!.*admin).*X-Keep: yes.*X-Claim: alice
