package SpaAuth::HungProvider;
# An OpenID provider on loopback that answers discovery and then hangs:
# every POST to its token endpoint is read and held open, unanswered,
# until the test releases it. It counts what it holds and every held
# connection the client closed, so a test can tell from state (not time)
# that the hung calls are still in flight.
#
#   my $op = SpaAuth::HungProvider->start;   # $op->{issuer}
#   $op->state;     # {held => N, closed => N, token_requests => N}
#   $op->release;   # answer the held ones (and every later one) 400 invalid_grant
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use POSIX ();

my @RUNNING;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { kill 'KILL', $_->{pid} for grep { $_->{pid} } @RUNNING } }

sub start {
    my ($class) = @_;
    my $server = IO::Socket::INET->new(Listen => 256, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
        or die "hung provider: $!";
    my $self = bless { port => $server->sockport }, $class;
    $self->{issuer} = "http://127.0.0.1:$self->{port}";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        serve($server, $self->{issuer});
        POSIX::_exit(0);
    }
    close $server;
    $self->{pid} = $pid;
    push @RUNNING, $self;
    return $self;
}

sub control {
    my ($self, $method) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 10) or die "connect: $!";
    print $s "$method /control HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my (undef, $body) = split /\r\n\r\n/, $resp, 2;
    return decode_json($body);
}

sub state { $_[0]->control('GET') }
sub release { $_[0]->control('POST') }

sub answer {
    my ($c, $status, $body) = @_;
    my $text = $status == 200 ? 'OK' : 'Bad Request';
    syswrite $c, "HTTP/1.1 $status $text\r\nContent-Type: application/json\r\nContent-Length: " . length($body)
               . "\r\nConnection: close\r\n\r\n$body";
    close $c;
}

# One process, one select loop: requests are small and come whole.
sub serve {
    my ($server, $issuer) = @_;
    my $discovery = encode_json({
        issuer => $issuer,
        authorization_endpoint => "$issuer/auth",
        token_endpoint => "$issuer/token",
        jwks_uri => "$issuer/jwks",
        response_types_supported => ['code'],
        code_challenge_methods_supported => ['S256'],
        id_token_signing_alg_values_supported => ['RS256'],
        token_endpoint_auth_methods_supported => ['client_secret_basic'],
    });
    my $sel = IO::Select->new($server);
    my (%buf, %held);
    my ($released, $closed, $token_requests) = (0, 0, 0);
    while (1) {
        for my $c ($sel->can_read) {
            if ($c == $server) {
                my $n = $server->accept or next;
                $sel->add($n);
                $buf{$n} = '';
                next;
            }
            my $got = sysread $c, my $chunk, 65536;
            if (!$got) {  # the client closed (or reset) the connection
                $closed++ if delete $held{$c};
                $sel->remove($c);
                delete $buf{$c};
                close $c;
                next;
            }
            next if $held{$c};  # anything more from a held call is ignored
            $buf{$c} .= $chunk;
            my ($head, $body) = split /\r\n\r\n/, $buf{$c}, 2;
            next unless defined $body;
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            next if length($body) < ($len // 0);
            my ($method, $path) = $head =~ m{^(\S+) (\S+)};
            if ($path eq '/control') {
                if ($method eq 'POST') {
                    $released = 1;
                    for my $h (values %held) { $sel->remove($h); answer($h, 400, '{"error":"invalid_grant"}') }
                    %held = ();
                }
                $sel->remove($c);
                answer($c, 200, encode_json({ held => scalar(keys %held), closed => $closed,
                                               token_requests => $token_requests }));
            } elsif ($path eq '/.well-known/openid-configuration') {
                $sel->remove($c);
                answer($c, 200, $discovery);
            } elsif ($path eq '/jwks') {
                $sel->remove($c);
                answer($c, 200, '{"keys":[]}');
            } elsif ($method eq 'POST' && $path eq '/token') {
                $token_requests++;
                if ($released) {
                    $sel->remove($c);
                    answer($c, 400, '{"error":"invalid_grant"}');
                } else {
                    $held{$c} = $c;  # never answered until released
                }
            } else {
                $sel->remove($c);
                answer($c, 404, '{}');
            }
            delete $buf{$c} unless $held{$c};
        }
    }
}

1;
