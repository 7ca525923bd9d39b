package SpaAuth::SmtpFaults;
# An SMTP server on loopback that fails on demand: the fault is read from
# DIR/mode at every connection (a test rewrites it), one of
#
#   ok        accepts every message, written to DIR/NNN.eml as SmtpSink does
#   hang      accepts the connection and never says a word
#   421       greets with 421 (service not available) and closes
#   451mail   answers MAIL FROM with 451 (try again later)
#   550mail   answers MAIL FROM with 550 (refused for good)
#   550rcpt   answers RCPT TO with 550 5.1.1 (no such mailbox)
#
# "Connection refused" is the server stopped (stop), then started again
# on the same port (start(DIR, PORT)). What happened is appended to
# DIR/events, a line each: "MODE connect", "MODE held", "MODE closed"
# (a held connection the client gave up), "MODE refused MAIL|RCPT",
# "ok delivered". One connection at a time is enough for spa-authd's one
# mail thread; a held one is watched while the next is accepted.
#
#   my $smtp = SpaAuth::SmtpFaults->start($dir);   # {port}
#   $smtp->mode('hang'); $smtp->events; $smtp->stop; SpaAuth::SmtpFaults->start($dir, $smtp->{port});
use strict;
use warnings;
use IO::Select;
use IO::Socket::INET;
use POSIX ();
use SpaAuth::SmtpSink;

my @RUNNING;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { kill 'KILL', $_->{pid} for grep { $_->{pid} } @RUNNING } }

sub start {
    my ($class, $dir, $port_wanted) = @_;
    mkdir $dir;
    my $server = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => $port_wanted // 0, ReuseAddr => 1)
        or die "smtp faults: $!";
    my $self = bless { dir => $dir, port => $server->sockport }, $class;
    $self->mode('ok') unless -e "$dir/mode";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        $SIG{PIPE} = 'IGNORE';
        serve($server, $dir);
        POSIX::_exit(0);
    }
    close $server;
    $self->{pid} = $pid;
    push @RUNNING, $self;
    return $self;
}

sub stop { my ($self) = @_; kill 'KILL', $self->{pid}; waitpid $self->{pid}, 0; undef $self->{pid} }

sub mode {
    my ($self, $mode) = @_;
    open my $fh, '>', "$self->{dir}/mode.tmp" or die;
    print $fh "$mode\n";
    close $fh;
    rename "$self->{dir}/mode.tmp", "$self->{dir}/mode" or die;
}

sub events {
    my ($self) = @_;
    open my $fh, '<', "$self->{dir}/events" or return ();
    chomp(my @l = <$fh>);
    return @l;
}

# Waits (bounded, 10 s) until an event line matching RE is there; true if it came.
sub wait_event {
    my ($self, $re) = @_;
    for (1 .. 500) {
        return 1 if grep { /$re/ } $self->events;
        select(undef, undef, undef, 0.02);
    }
    return 0;
}

sub event {
    my ($dir, $line) = @_;
    open my $fh, '>>', "$dir/events" or die;
    print $fh "$line\n";
    close $fh;
}

sub current_mode {
    my ($dir) = @_;
    open my $fh, '<', "$dir/mode" or return 'ok';
    chomp(my $m = <$fh> // 'ok');
    return $m;
}

sub serve {
    my ($server, $dir) = @_;
    my $sel = IO::Select->new($server);
    my %held;
    my $n = () = glob("$dir/*.eml");  # started again: numbering goes on
    while (1) {
        for my $c ($sel->can_read) {
            if ($c != $server) {  # a held connection: the client gave up
                sysread $c, my $junk, 4096 and next;
                event($dir, "hang closed");
                $sel->remove($c);
                delete $held{$c};
                close $c;
                next;
            }
            my $client = $server->accept or next;
            my $mode = current_mode($dir);
            event($dir, "$mode connect");
            if ($mode eq 'hang') {
                $held{$client} = $client;
                $sel->add($client);
                event($dir, "hang held");
                next;
            }
            $n = converse($client, $dir, $mode, $n);
            close $client;
        }
    }
}

# The sink's conversation (SpaAuth::SmtpSink::converse), with the mode's
# refusal at MAIL or RCPT.
my %REFUSAL = (
    '451mail' => ['MAIL', '451 4.3.0 try again later', '451mail refused MAIL'],
    '550mail' => ['MAIL', '550 5.7.1 sender refused', '550mail refused MAIL'],
    '550rcpt' => ['RCPT', '550 5.1.1 no such mailbox', '550rcpt refused RCPT'],
);

sub converse {
    my ($c, $dir, $mode, $n) = @_;
    $c->autoflush(1);
    if ($mode eq '421') {
        print $c "421 4.3.2 sink.test not available now\r\n";
        event($dir, "421 refused greeting");
        return $n;
    }
    my $refusal = $REFUSAL{$mode};
    return SpaAuth::SmtpSink::converse($c, $dir, $n,
        delivered => sub { event($dir, "ok delivered") },
        refuse => sub {
            my ($command) = @_;
            return undef unless $refusal && $refusal->[0] eq $command;
            event($dir, $refusal->[2]);
            return $refusal->[1];
        });
}

1;
