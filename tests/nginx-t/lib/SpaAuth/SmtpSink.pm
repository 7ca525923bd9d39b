package SpaAuth::SmtpSink;
# A minimal SMTP server on loopback for tests: accepts every message and
# writes it to DIR/NNN.eml. Speaks just enough RFC 5321 for libcurl.
use strict;
use warnings;
use IO::Socket::INET;
use POSIX ();
use MIME::Base64 ();

# Returns (port, pid); kill the pid when done. PORT 0 (default): any free one.
# %o as converse's (auth => "user:password").
sub start {
    my ($dir, $port_wanted, %o) = @_;
    mkdir $dir;
    my $server = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1', LocalPort => $port_wanted // 0, ReuseAddr => 1)
        or die "smtp sink: $!";
    my $port = $server->sockport;
    my $pid = fork // die;
    return ($port, $pid) if $pid;
    # Numbered on from the messages already there (`make run` again).
    my $n = 0;
    for (glob("$dir/*.eml")) { $n = $1 if /(\d+)\.eml$/ && $1 > $n }
    while (my $c = $server->accept) {
        $n = converse($c, $dir, $n, %o);
        close $c;
    }
    POSIX::_exit(0);
}

# One SMTP conversation on $c: every message is written to DIR/NNN.eml
# (numbered after $n, with an X-Envelope line per recipient); returns the
# last number. %o: refuse => sub (COMMAND LINE) returning a reply line to
# send instead of 250 for MAIL/RCPT (SpaAuth::SmtpFaults), or undef;
# delivered => sub called after each message is written. auth =>
# "user:password": AUTH PLAIN is offered and required before MAIL; each
# message then starts with "X-Auth-User: user", and a wrong login is 535.
sub converse {
    my ($c, $dir, $n, %o) = @_;
    $c->autoflush(1);
    print $c "220 sink.test ESMTP\r\n";
    my ($in_data, $message, $authenticated) = (0, '', undef);
    while (defined(my $line = <$c>)) {
        if ($in_data) {
            if ($line eq ".\r\n") {
                $in_data = 0;
                open my $fh, '>', sprintf('%s/%03d.eml.tmp', $dir, ++$n) or die;
                print $fh $message;
                close $fh;
                rename sprintf('%s/%03d.eml.tmp', $dir, $n), sprintf('%s/%03d.eml', $dir, $n);
                $message = '';
                $o{delivered}->() if $o{delivered};
                print $c "250 2.0.0 queued\r\n";
            } else {
                $line =~ s/^\.\././;
                $message .= $line;
            }
            next;
        }
        my $refusal = $o{refuse} && $line =~ /^(MAIL|RCPT)/i ? $o{refuse}->(uc $1) : undef;
        if (defined $refusal) { print $c "$refusal\r\n" }
        elsif ($line =~ /^EHLO/i && $o{auth}) { print $c "250-sink.test\r\n250 AUTH PLAIN\r\n" }
        elsif ($line =~ /^(EHLO|HELO)/i) { print $c "250 sink.test\r\n" }
        elsif ($o{auth} && $line =~ /^AUTH PLAIN ?(\S*)/i) {
            my $b64 = $1;
            if ($b64 eq '') { print $c "334 \r\n"; $b64 = <$c> // ''; $b64 =~ s/\s+$// }
            my (undef, $user, $password) = split /\0/, MIME::Base64::decode_base64($b64), 3;
            my ($want_user, $want_password) = split /:/, $o{auth}, 2;
            if (defined $password && $user eq $want_user && $password eq $want_password) {
                $authenticated = $user;
                print $c "235 2.7.0 authenticated\r\n";
            } else {
                print $c "535 5.7.8 bad credentials\r\n";
            }
        }
        elsif ($o{auth} && !defined $authenticated && $line =~ /^MAIL/i) { print $c "530 5.7.0 authentication required\r\n" }
        elsif ($line =~ /^MAIL/i && defined $authenticated) { $message .= "X-Auth-User: $authenticated\n"; print $c "250 2.1.0 ok\r\n" }
        elsif ($line =~ /^(MAIL|RCPT|RSET|NOOP)/i) { $message .= "X-Envelope: $line" if $line =~ /^RCPT/i; print $c "250 2.1.0 ok\r\n" }
        elsif ($line =~ /^DATA/i) { $in_data = 1; print $c "354 go ahead\r\n" }
        elsif ($line =~ /^QUIT/i) { print $c "221 bye\r\n"; last }
        else { print $c "502 5.5.2 not implemented\r\n" }
    }
    return $n;
}

# The token of the newest link to PATH (e.g. "verify-email") mailed to
# ADDRESS, waiting up to 5 s for it to arrive.
sub wait_token {
    my ($dir, $address, $path) = @_;
    for (1 .. 250) {
        for my $m (reverse messages($dir)) {
            next unless $m =~ /^X-Envelope: RCPT TO:<\Q$address\E>/mi;
            return $1 if $m =~ m{/\Q$path\E#token=([A-Za-z0-9_-]+)};
        }
        select(undef, undef, undef, 0.02);
    }
    return undef;
}

# The messages received so far, oldest first.
sub messages {
    my ($dir) = @_;
    return map { local $/; open my $fh, '<', $_ or die; scalar <$fh> } sort glob("$dir/*.eml");
}

1;
