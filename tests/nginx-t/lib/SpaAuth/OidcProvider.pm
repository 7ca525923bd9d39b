package SpaAuth::OidcProvider;
# A real OpenID provider (oidc-provider from npm, tests/peers) on loopback,
# and the steps a browser takes through its development login form.
#
#   my $op = SpaAuth::OidcProvider->start(client_id => ..., client_secret => ..., redirect_uri => ...);
#   $op->{issuer}; $op->restart;   # a restart signs with a new key
use strict;
use warnings;
use Cwd qw(abs_path);
use IO::Socket::INET;
use POSIX ();
use Time::HiRes qw(sleep);
use SpaAuth::Test qw(free_port);

my @RUNNING;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { $_->stop for @RUNNING } }

my $PEERS = do { my $d = abs_path(__FILE__); $d =~ s{nginx-t/lib/SpaAuth/OidcProvider\.pm$}{peers}; $d };

sub available { -d "$PEERS/node_modules/oidc-provider" }

sub start {
    my ($class, %o) = @_;
    die "oidc-provider is not installed in $PEERS (run make deps)\n" unless available();
    my $self = bless { %o, port => $o{port} // free_port() }, $class;
    $self->{issuer} = "http://127.0.0.1:$self->{port}";
    push @RUNNING, $self;
    $self->launch;
    return $self;
}

sub launch {
    my ($self) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $self->{log} // '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec 'node', "$PEERS/oidc-provider.mjs", @$self{qw(port client_id client_secret redirect_uri)} or POSIX::_exit(1);
    }
    $self->{pid} = $pid;
    # (up to 30 s: node loading oidc-provider while prove -j2 and a build
    # share two cores once took longer than 10)
    for (1 .. 1500) {
        return 1 if IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $self->{port}, Timeout => 1);
        die "oidc-provider exited\n" if waitpid($pid, POSIX::WNOHANG()) > 0;
        sleep 0.02;
    }
    die "oidc-provider did not start\n";
}

sub stop {
    my ($self) = @_;
    return unless $self->{pid};
    kill 'TERM', $self->{pid};
    waitpid($self->{pid}, 0);
    undef $self->{pid};
}

sub restart { my ($self) = @_; $self->stop; $self->launch }

# No session at the provider in this cookie jar: each sign_in shows the
# login form (a provider session would approve silently, as whoever signed
# in last).
sub forget_provider {
    my ($jar) = @_;
    open my $in, '<', $jar or return;
    my @keep = grep { !/^(#HttpOnly_)?127\.0\.0\.1\t/ } <$in>;
    close $in;
    open my $out, '>', $jar or die;
    print $out @keep;
    close $out;
}

# From our /start redirect to the provider's redirect back to our callback,
# as a browser would: the provider's login form with `login` as the account
# name (the development form takes any name). Returns the callback URL
# without visiting it, or undef. `abort` presses Cancel instead.
sub sign_in {
    my ($self, $browser, $authorization_url, %o) = @_;
    my @jar = (jar => $o{jar});
    forget_provider($o{jar} // $browser->{jar});
    my $r = $browser->browse(GET => $authorization_url, @jar);
    my $url = $r->{headers}{location}[0] // return undef;
    for (1 .. 8) {
        $url = "$self->{issuer}$url" if $url =~ m{^/};
        return $url unless index($url, $self->{issuer}) == 0;  # leaving the provider: our callback
        if ($url =~ m{/interaction/[^/]+$}) {
            $r = $o{abort} ? $browser->browse(GET => "$url/abort", @jar)
                           : $browser->browse(POST => $url, data => "prompt=login&login=$o{login}&password=x", @jar,
                                              headers => ['Content-Type: application/x-www-form-urlencoded']);
        } else {
            $r = $browser->browse(GET => $url, @jar);
        }
        $url = $r->{headers}{location}[0] // return undef;
    }
    return undef;
}

1;
