package SpaAuth::BrokenProvider;
# OpenID providers on loopback that break in one place each: one process,
# one listening port, one provider per path prefix. The prefix names what
# breaks and how: its first letter the endpoint (d discovery, t token,
# j JWKS), the rest the fault:
#
#   500    HTTP 500 with an HTML error page
#   cut    200 and the first half of a valid JSON answer, then the
#          connection closes (no Content-Length: the answer looks whole)
#   short  the same, with a Content-Length for the whole answer
#   huge   200 and a JSON answer of 1 MiB (no Content-Length)
#   hang   the request is read, then nothing is ever said until the
#          client closes the connection
#
# e.g. issuer "$op->{root}/tcut": discovery and JWKS answer, the token
# endpoint sends half its answer. Every other endpoint answers well (the
# token endpoint with an ID token that no key verifies: where the token
# endpoint works, the fault is later, at the JWKS).
#
#   my $op = SpaAuth::BrokenProvider->start;   # $op->{root}
#   $op->state;   # {held => {NAME => N}, closed => {NAME => N}, requests => {"NAME endpoint" => N}}
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use POSIX ();

my @RUNNING;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { kill 'KILL', $_->{pid} for grep { $_->{pid} } @RUNNING } }

sub start {
    my ($class) = @_;
    my $server = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
        or die "broken provider: $!";
    my $self = bless { port => $server->sockport }, $class;
    $self->{root} = "http://127.0.0.1:$self->{port}";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        serve($server, $self->{root});
        POSIX::_exit(0);
    }
    close $server;
    $self->{pid} = $pid;
    push @RUNNING, $self;
    return $self;
}

sub state {
    my ($self) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 10) or die "connect: $!";
    print $s "GET /control HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    local $/;
    my $resp = <$s> // '';
    my (undef, $body) = split /\r\n\r\n/, $resp, 2;
    return decode_json($body);
}

sub stop { my ($self) = @_; kill 'KILL', $self->{pid}; waitpid $self->{pid}, 0; undef $self->{pid} }

sub whole {
    my ($c, $status, $type, $body) = @_;
    my $text = $status == 200 ? 'OK' : $status == 404 ? 'Not Found' : 'Internal Server Error';
    syswrite $c, "HTTP/1.1 $status $text\r\nContent-Type: $type\r\nContent-Length: " . length($body)
               . "\r\nConnection: close\r\n\r\n$body";
}

# A JWT-shaped ID token no key verifies.
sub id_token {
    my ($issuer) = @_;
    my $h = encode_base64url(encode_json({ alg => 'RS256', kid => 'no-such-key', typ => 'JWT' }));
    my $p = encode_base64url(encode_json({ iss => $issuer, sub => 'broken-1', aud => 'spa-test',
                                           iat => time, exp => time + 300 }));
    return "$h.$p." . encode_base64url('x' x 256);
}

sub good_answer {
    my ($issuer, $endpoint) = @_;
    return encode_json({
        issuer => $issuer,
        authorization_endpoint => "$issuer/auth",
        token_endpoint => "$issuer/token",
        jwks_uri => "$issuer/jwks",
        response_types_supported => ['code'],
        subject_types_supported => ['public'],
        code_challenge_methods_supported => ['S256'],
        id_token_signing_alg_values_supported => ['RS256'],
        token_endpoint_auth_methods_supported => ['client_secret_basic'],
    }) if $endpoint eq 'discovery';
    return encode_json({ access_token => 'at-' . ('a' x 20), token_type => 'Bearer', expires_in => 300,
                         id_token => id_token($issuer) }) if $endpoint eq 'token';
    return encode_json({ keys => [{ kty => 'RSA', kid => 'other', use => 'sig', alg => 'RS256',
                                    n => encode_base64url("\x01" x 256), e => 'AQAB' }] });
}

# Answers one request; true when the connection is to be held open.
sub answer {
    my ($c, $root, $name, $endpoint, $fault) = @_;
    my $issuer = "$root/$name";
    my $good = good_answer($issuer, $endpoint);
    if (!$fault) { whole($c, 200, 'application/json', $good); return 0 }
    if ($fault eq '500') { whole($c, 500, 'text/html', "<html><body>Internal Server Error</body></html>\n"); return 0 }
    if ($fault eq 'cut') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
                   . substr($good, 0, length($good) / 2);
        return 0;
    }
    if ($fault eq 'short') {
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " . length($good)
                   . "\r\nConnection: close\r\n\r\n" . substr($good, 0, length($good) / 2);
        return 0;
    }
    if ($fault eq 'huge') {
        my $pad = 'x' x (1024 * 1024);
        my $body = substr($good, 0, -1) . qq{,"padding":"$pad"\}};
        syswrite $c, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n";
        # The client stops reading at its bound and closes: the rest fails (SIGPIPE is ignored).
        for (my $off = 0; $off < length $body; $off += 65536) { last unless defined syswrite $c, $body, 65536, $off }
        return 0;
    }
    return 1 if $fault eq 'hang';
    die "unknown fault $fault";
}

my %ENDPOINT = (d => 'discovery', t => 'token', j => 'jwks');
my %PATH = ('/.well-known/openid-configuration' => 'discovery', '/token' => 'token', '/jwks' => 'jwks');

sub serve {
    my ($server, $root) = @_;
    my $sel = IO::Select->new($server);
    my (%buf, %held, %held_by, %closed, %requests);
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
                if (my $name = delete $held{$c}) { $held_by{$name}--; $closed{$name}++ }
                $sel->remove($c);
                delete $buf{$c};
                close $c;
                next;
            }
            next if $held{$c};
            $buf{$c} .= $chunk;
            my ($head, $body) = split /\r\n\r\n/, $buf{$c}, 2;
            next unless defined $body;
            my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            next if length($body) < ($len // 0);
            my ($path) = $head =~ m{^\S+ (\S+)};
            if ($path eq '/control') {
                whole($c, 200, 'application/json', encode_json({ held => \%held_by, closed => \%closed, requests => \%requests }));
            } elsif ($path =~ m{^/(([dtj])([a-z0-9]+))(/.*)$} && $PATH{$4}) {
                my ($name, $where, $fault, $endpoint) = ($1, $ENDPOINT{$2}, $3, $PATH{$4});
                $requests{"$name $endpoint"}++;
                if (answer($c, $root, $name, $endpoint, $where eq $endpoint ? $fault : undef)) {
                    $held{$c} = $name;
                    $held_by{$name}++;
                    delete $buf{$c};
                    next;
                }
            } else {
                whole($c, 404, 'application/json', '{}');
            }
            $sel->remove($c);
            delete $buf{$c};
            close $c;
        }
    }
}

1;
