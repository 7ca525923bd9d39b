package SpaAuth::Shipped;
# The shipped conf/nginx.conf and conf/authd.toml with local paths (the
# adaptation `make run` uses: scripts/adapt-conf.sh), served over HTTPS on
# a free port, with spa-authd and the demo service; and a browser made of
# curl with a cookie jar, which follows no redirect by itself.
#
#   my $s = SpaAuth::Shipped::start(authd_toml => "[oauth.x]\n...");
#   my $r = $s->browse(GET => "$s->{base}/api/v1/...", headers => [...], data => '...');
#   $r->{status}, $r->{headers}{location}[0], $r->{body}, $r->{json}
use strict;
use warnings;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);
use SpaAuth::Test qw(free_port);

my $NGINX = $ENV{SPA_NGINX} || "nginx";  # SANITIZE=1 preloads the sanitizers' runtimes
my @STACKS;
my $OWNER = $$;
END { local $?; if ($$ == $OWNER) { $_->stop for @STACKS } }

# Options: port, authd_toml (appended to the adapted authd.toml), before_authd
# (a sub called with the state directory once the files are written),
# verified_email (keep the shipped require_verified_email = true; else the
# test's users sign in without confirming their address), smtp_port (mail
# goes to a sink there), many_requests (every rate limit of nginx.conf
# raised to 100000/1m: for suites that send more than a client would).
sub start {
    my (%o) = @_;
    # A port another process took between free_port and nginx's bind (the
    # suites run two at a time): the whole stack again, on new ports.
    for my $attempt (1 .. 4) {
        my $self = start_once(%o);
        return $self if $self->{nginx_ok} || $o{port} || $attempt == 4
            || ($self->{nginx_out} // '') !~ /Address already in use/;
        $self->stop;
    }
}

sub start_once {
    my (%o) = @_;
    my $state = tempdir('spa-shipped-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $state;
    my $self = bless { state => $state, port => $o{port} // free_port(), demo_port => free_port(), ws_port => free_port(),
                       pids => [] }, __PACKAGE__;
    $self->{base} = "https://localhost:$self->{port}";
    $self->{origin} = $self->{base};
    $self->{jar} = "$state/cookies.txt";
    my $build = SpaAuth::Test::build_dir();
    system('scripts/adapt-conf.sh', $state, @$self{qw(port demo_port ws_port)}) == 0 or die 'adapt-conf failed';
    if ($o{many_requests}) {
        open my $in, '<', "$state/nginx.conf" or die;
        local $/;
        my $conf = <$in>;
        close $in;
        $conf =~ s{ rate=\d+/\w+;}{ rate=100000/1m;}g or die 'no rate limit in nginx.conf';
        open my $out, '>', "$state/nginx.conf" or die;
        print $out $conf;
        close $out;
    }
    {
        open my $in, '<', "$state/authd.toml" or die;
        local $/;
        my $toml = <$in>;
        close $in;
        $toml =~ s/^require_verified_email = true/require_verified_email = false/m unless $o{verified_email};
        $toml =~ s{^url = "smtp://127\.0\.0\.1:25"}{url = "smtp://127.0.0.1:$o{smtp_port}"}m if $o{smtp_port};
        open my $out, '>', "$state/authd.toml" or die;
        print $out $toml;
        close $out;
    }
    if (defined $o{authd_toml}) {
        open my $fh, '>>', "$state/authd.toml" or die;
        print $fh "\n$o{authd_toml}";
        close $fh;
    }
    $o{before_authd}->($state) if $o{before_authd};
    push @STACKS, $self;
    $self->{authd_ok} = system("$build/spa-authd --check-config --config $state/authd.toml >$state/logs/check.log 2>&1") == 0;
    my @services = (["authd.log", "$build/spa-authd", '--config', "$state/authd.toml"],
                    ["demo.log", "$build/spa-demo-echo", '--port', $self->{demo_port}]);
    push @services, ["ws.log", 'node', 'tests/peers/ws-service.mjs', $self->{ws_port}];
    for my $service (@services) {
        my ($log, @cmd) = @$service;
        my $pid = fork // die;
        if ($pid == 0) {
            open STDOUT, '>>', "$state/logs/$log";
            open STDERR, '>&', \*STDOUT;
            exec @cmd or POSIX::_exit(1);
        }
        push @{ $self->{pids} }, $pid;
    }
    for (1 .. 300) { last if -S "$state/run/authd.sock" && -f "$state/authd/jwks.json"; sleep 0.02 }
    system("chgrp www-data $state/run/authd.sock $state/authd $state/authd/data.mdb $state/authd/lock.mdb 2>/dev/null") if $> == 0;
    $self->{nginx_t} = `$NGINX -p $state -c $state/nginx.conf -t 2>&1`;
    if ($? == 0) {
        $self->{nginx_out} = `$NGINX -p $state -c $state/nginx.conf 2>&1`;
        $self->{nginx_ok} = $? == 0;
        $self->{nginx_t} .= $self->{nginx_out} unless $self->{nginx_ok};  # what a test's BAIL_OUT shows
    }
    for my $p ($self->{demo_port}, $self->{ws_port}) {
        for (1 .. 250) { last if IO::Socket::INET->new("127.0.0.1:$p"); sleep 0.02 }
    }
    return $self;
}

sub stop {
    my ($self) = @_;
    return if $self->{stopped}++;
    system("$NGINX -p $self->{state} -c $self->{state}/nginx.conf -s stop 2>/dev/null");
    kill 'TERM', @{ $self->{pids} };
    waitpid($_, 0) for @{ $self->{pids} };
}

sub log_text {
    my ($self, $name) = @_;
    open my $fh, '<', "$self->{state}/logs/$name" or return '';
    local $/;
    return <$fh> // '';
}

# One request through curl with this browser's cookie jar. headers: a list
# of "Name: value"; data: a request body; jar: another cookie jar.
sub browse {
    my ($self, $method, $url, %o) = @_;
    my $tmp = tempdir(CLEANUP => 1);
    my $jar = $o{jar} // $self->{jar};
    my @args = ('curl', '-sk', '--max-time', '20', '-b', $jar, '-c', $jar, '-X', $method,
                '-D', "$tmp/head", '-o', "$tmp/body");
    push @args, '-H', $_ for @{ $o{headers} // [] };
    push @args, '--data-binary', $o{data} if defined $o{data};
    system(@args, $url);
    my $r = { status => 0, headers => {}, body => '' };
    if (open my $fh, '<', "$tmp/head") {
        while (my $line = <$fh>) {
            $line =~ s/\r?\n$//;
            if ($line =~ m{^HTTP/\S+ (\d{3})}) { $r->{status} = $1; $r->{headers} = {}; next }
            my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/ or next;
            push @{ $r->{headers}{lc $k} }, $v;
        }
    }
    if (open my $fh, '<', "$tmp/body") { local $/; $r->{body} = <$fh> // '' }
    $r->{json} = eval { decode_json($r->{body}) } // {};
    return $r;
}

# A JSON API call from the SPA's own page (its Origin).
sub api {
    my ($self, $method, $path, $body, %o) = @_;
    return $self->browse($method, "$self->{base}$path",
                         headers => ['Content-Type: application/json', "Origin: $self->{origin}", @{ $o{headers} // [] }],
                         data => defined $body ? encode_json($body) : ($method eq 'GET' ? undef : ''), %o);
}

# The value of a cookie in the jar (curl's Netscape format; HttpOnly lines
# start with "#HttpOnly_").
sub cookie {
    my ($self, $name, $jar) = @_;
    open my $fh, '<', $jar // $self->{jar} or return undef;
    my $value;
    while (<$fh>) {
        chomp;
        my @f = split /\t/;
        $value = $f[6] if @f >= 7 && $f[5] eq $name;
    }
    return $value;
}

1;
