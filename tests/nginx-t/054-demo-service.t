# The demo service (tools/spa-demo-echo.cc) on its own: what it does with
# the X-User-Id nginx sends it, and every bound of its notes, at the bound
# and one past it.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test qw(free_port);
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep);

my $port = free_port();
my $pid = fork // die;
if ($pid == 0) {
    open STDOUT, '>', '/dev/null';
    exec SpaAuth::Test::build_dir() . '/spa-demo-echo', '--port', $port, '--max-users', 3 or POSIX::_exit(1);
}
END { if ($pid) { kill 'TERM', $pid; waitpid $pid, 0 } }
for (1 .. 250) { last if IO::Socket::INET->new("127.0.0.1:$port"); sleep 0.02 }

my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
my $base = "http://127.0.0.1:$port/api/v1/demo/notes";
sub call {
    my ($method, $url, $user, $body, %h) = @_;
    my $r = $http->request($method, $url, { headers => { ($user ? ('X-User-Id' => $user) : ()), 'Content-Type' => 'application/json', %h },
                                            (defined $body ? (content => $body) : ()) });
    $r->{json} = eval { decode_json($r->{content}) } // {};
    return $r;
}
sub note_body { encode_json({ text => $_[0] }) }

is(call(GET => $base)->{status}, 401, 'no X-User-Id: 401');
is(call(GET => $base)->{json}{error}{code}, 'missing_token', '... in the envelope');
is(call(GET => $base, 'alice')->{headers}{'cache-control'}, 'no-store', 'answers are never cached');

is(call(POST => $base, 'alice', note_body('x' x 500))->{status}, 201, 'a note of 500 bytes (the bound)');
is(call(POST => $base, 'alice', note_body('x' x 501))->{status}, 400, 'a note of 501 bytes: 400');
is(call(POST => $base, 'alice', note_body(''))->{status}, 400, 'an empty note: 400');
is(call(POST => $base, 'alice', "{\"text\":\"\xff\"}")->{status}, 400, 'a note that is not UTF-8: 400');
is(call(POST => $base, 'alice', '{"text":1}')->{status}, 400, 'a note that is not a string: 400');
is(call(POST => $base, 'alice', note_body("n$_"))->{status}, 201, "note $_") for 2 .. 20;
my $over = call(POST => $base, 'alice', note_body('one too many'));
is($over->{status}, 409, 'the 21st note: 409');
is($over->{json}{error}{code}, 'too_many_notes', '... too_many_notes');
is(scalar @{ call(GET => $base, 'alice')->{json}{data}{notes} }, 20, 'alice has 20 notes');

my $id = call(GET => $base, 'alice')->{json}{data}{notes}[0]{id};
is_deeply(call(GET => $base, 'bob')->{json}{data}{notes}, [], 'bob sees none of them');
is(call(DELETE => "$base/$id", 'bob')->{status}, 404, "bob cannot delete alice's note: 404");
is(call(DELETE => "$base/$id", 'alice')->{status}, 200, 'alice can');
is(call(DELETE => "$base/$id", 'alice')->{status}, 404, '... once');
is(call(POST => $base, 'alice', note_body('room again'))->{status}, 201, 'a deleted note makes room');

# Users: 3 here (--max-users; 10,000 by default). alice and bob have
# notes; carol's makes three (the bound), dave's a fourth: the one written
# to longest ago goes (bob: alice wrote last).
is(call(POST => $base, 'bob', note_body('b'))->{status}, 201, 'bob writes a note');
is(call(POST => $base, 'alice', note_body('a again'))->{status}, 409, 'alice writes again (full, but she is the newest writer)');
is(call(POST => $base, 'carol', note_body('c'))->{status}, 201, 'carol: three users, the bound');
is(scalar @{ call(GET => $base, 'bob')->{json}{data}{notes} }, 1, '... bob keeps his note');
is(call(POST => $base, 'dave', note_body('d'))->{status}, 201, 'dave: a fourth user');
is_deeply(call(GET => $base, 'bob')->{json}{data}{notes}, [], "... bob's notes, written longest ago, are gone");
is(scalar @{ call(GET => $base, 'alice')->{json}{data}{notes} }, 20, "... alice's stay");

my $big = call(POST => $base, 'alice', note_body('x' x (16 * 1024)));
is($big->{status}, 413, 'a body past 16 KiB: 413');
my $coded = call(POST => $base, 'alice', "\x1f\x8b", 'Content-Encoding' => 'gzip');
is($coded->{status}, 415, 'a coded body: 415, not inflated');
like(call(GET => "http://127.0.0.1:$port/api/v1/demo/%C0%AE", 'alice')->{content}, qr/\x{fffd}|\xef\xbf\xbd/, 'a path that is not UTF-8 is echoed with U+FFFD');

done_testing();
