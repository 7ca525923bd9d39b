package SpaAuth::WsPeers;
# The WebSocket peers of tests/peers (the `ws` library from npm): the
# service nginx proxies to, and a client run once per scenario.
#
#   my $port = SpaAuth::WsPeers::start_service();
#   my $r = SpaAuth::WsPeers::client(url => ..., cookie => ..., ...);  # see tests/peers/ws-client.mjs
use strict;
use warnings;
use Cwd qw(abs_path);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);
use SpaAuth::Test qw(free_port);

my $PEERS = do { my $d = abs_path(__FILE__); $d =~ s{nginx-t/lib/SpaAuth/WsPeers\.pm$}{peers}; $d };
my @PIDS;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { kill 'TERM', @PIDS if @PIDS } }

sub available { -d "$PEERS/node_modules/ws" }

# Starts tests/peers/ws-service.mjs on a free port; returns the port.
sub start_service {
    my $port = free_port();
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', '/dev/null';
        exec 'node', "$PEERS/ws-service.mjs", $port or POSIX::_exit(1);
    }
    push @PIDS, $pid;
    for (1 .. 250) { return $port if IO::Socket::INET->new("127.0.0.1:$port"); sleep 0.02 }
    die "ws-service did not start\n";
}

# Runs one client scenario; returns its JSON result as a hash.
sub client {
    my (%scenario) = @_;
    my $arg = encode_json(\%scenario);
    $arg =~ s/'/'\\''/g;
    my $json = `node $PEERS/ws-client.mjs '$arg'`;
    return eval { decode_json($json) } // { raw => $json };
}

1;
