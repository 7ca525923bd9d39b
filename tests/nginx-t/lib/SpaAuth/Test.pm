package SpaAuth::Test;
# Data-driven nginx tests in the Test::Nginx::Socket dialect (which Debian
# does not package): blocks after __DATA__, one nginx per block, started in
# a temp prefix on free loopback ports with the module we just built.
#
#   === title
#   --- main_config / http_config / config     (into nginx.conf)
#   --- request        GET /t                  (first line; body may follow)
#   --- more_headers   Name: value lines
#   --- error_code     200
#   --- response_headers        Name: value  (exact)  |  !Name  (absent)
#   --- response_headers_like   Name: regex
#   --- response_body / response_body_like
#   --- error_log / no_error_log   lines that must / must not be in the log
#   --- access_log     lines that must be in one of logs/*.log (not error.log)
#   --- must_die       nginx -t must fail; error_log lines are checked in its output
#   --- workers        worker_processes (default 1)
#
# In every section: @PORT@, @ECHO_PORT@, @DATA@ (keys, JWKS) and @DIR@
# (this block's prefix) are replaced, and {{ perl }} is evaluated in main,
# where mint(...) and friends are available.
#
# Longer than our ~500-line rule, on purpose: it is one harness, as
# Test::Nginx::Socket is, and every .t file imports it whole; the parts
# (tokens, processes, requests, blocks) are the sections below, in that order.
use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use IO::Socket::INET;
use JSON::PP;
use MIME::Base64 qw(encode_base64url);
use POSIX ();
use Test::More;
use Time::HiRes qw(sleep time);

our @EXPORT_OK = qw(free_port);
our @EXPORT = qw(run_blocks mint data_dir write_file build_dir jwks_for start_nginx stop_nginx
                 http_request error_log_text b64url port echo_port kid_of flip_sig hs256_raw
                 raw_token prepare_prefix start_authd stop_authd authd_toml json_request error_of step
                 set_clock skip_faked_nginx_under_sanitizers);

use Cwd qw(abs_path);
my $BUILD = $ENV{SPA_BUILD} || do { my $d = abs_path(__FILE__); $d =~ s{tests/nginx-t/lib/SpaAuth/Test\.pm$}{build}; $d };
my $NGINX = $ENV{SPA_NGINX} || '/usr/sbin/nginx';
my $DATA;
my ($PORT, $ECHO_PORT, $DIR, $NGINX_PID);

sub build_dir { $BUILD }
sub prefix { $DIR }
sub port { $PORT }
sub echo_port { $ECHO_PORT }

sub b64url { encode_base64url($_[0]) }

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "write $path: $!";
    print $fh $text;
    close $fh;
}

sub run_cmd {
    my @cmd = @_;
    my $out = `@cmd 2>&1`;
    die "command failed: @cmd\n$out" if $?;
    return $out;
}

# Keys for every algorithm the module supports, made once per test file.
# --- tokens: keys, JWKS and minted JWTs

sub data_dir {
    return $DATA if $DATA;
    $DATA = tempdir('spa-data-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $DATA;
    run_cmd("openssl genpkey -algorithm ed25519 -out $DATA/ed.pem");
    run_cmd("openssl genpkey -algorithm ed25519 -out $DATA/ed2.pem");
    run_cmd("openssl genpkey -algorithm ed25519 -out $DATA/stranger.pem");
    run_cmd("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $DATA/es256.pem");
    run_cmd("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out $DATA/es384.pem");
    run_cmd("openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out $DATA/rsa.pem");
    write_file("$DATA/hmac.secret", ('s' x 48) . "\n");
    write_file("$DATA/short.secret", "too-short\n");
    write_file("$DATA/jwks.json", jwks_for(qw(ed es256 es384 rsa)));
    write_file("$DATA/jwks-ed2.json", jwks_for(qw(ed2)));
    write_file("$DATA/broken.json", '{"keys": [');
    write_file("$DATA/private.json", '{"keys":[{"kty":"OKP","crv":"Ed25519",'
        . '"x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}]}');
    chmod 0644, glob("$DATA/*");
    return $DATA;
}

sub jwks_for {
    my @names = @_;
    my $d = data_dir();
    return run_cmd("$BUILD/spa-auth-mint jwks " . join(' ', map { "$d/$_.pem" } @names));
}

# mint(key => 'ed', claims => {...}, ttl => 900, alg => 'EdDSA',
#      header => {...}, kid => '...', no_kid => 1, hmac => 1)
sub mint {
    my %o = @_;
    my $d = data_dir();
    return mint_with($o{hmac} ? undef : "$d/" . ($o{key} || 'ed') . ".pem", %o);
}

# mint() with a key file given by path (undef with hmac => 1).
sub mint_with {
    my ($key_file, %o) = @_;
    my $d = data_dir();
    my @args = ("$BUILD/spa-auth-mint", 'token');
    push @args, $o{hmac} ? ('--hmac-secret', "$d/hmac.secret") : ('--key', $key_file);
    push @args, '--alg', $o{alg} if $o{alg};
    push @args, '--kid', $o{kid} if defined $o{kid};
    push @args, '--no-kid' if $o{no_kid};
    push @args, '--ttl', $o{ttl} if defined $o{ttl};
    push @args, '--header', encode_json($o{header}) if $o{header};
    push @args, '--claims', JSON::PP->new->canonical->encode($o{claims}) if $o{claims};
    open my $fh, '-|', @args or die "mint: $!";
    my $token = <$fh>;
    close $fh;
    die "mint failed: @args" if $? || !defined $token;
    chomp $token;
    return $token;
}

# The kid (RFC 7638 thumbprint) the JWKS publishes for a key.
sub kid_of {
    my ($name) = @_;
    my $doc = decode_json(jwks_for($name));
    return $doc->{keys}[0]{kid};
}

# A valid token with one bit of its signature flipped.
sub flip_sig {
    my ($token) = @_;
    my ($h, $p, $s) = split /\./, $token;
    my $sig = MIME::Base64::decode_base64url($s);
    substr($sig, 5, 1) = chr(ord(substr($sig, 5, 1)) ^ 0x01);
    return "$h.$p." . encode_base64url($sig);
}

# header and payload given as exact text, so tests can send JSON that no
# encoder would write (duplicate names, wrong types); signed with `secret`.
sub hs256_raw {
    my ($header, $payload, $secret) = @_;
    require Digest::SHA;
    if (!defined $secret) {
        open my $fh, '<', data_dir() . '/hmac.secret' or die;
        $secret = <$fh>;
        chomp $secret;
    }
    my $input = encode_base64url($header) . '.' . encode_base64url($payload);
    return "$input." . encode_base64url(Digest::SHA::hmac_sha256($input, $secret));
}

# Unsigned pieces joined as a token, for structure tests.
sub raw_token {
    my ($header, $payload, $sig) = @_;
    return join '.', encode_base64url($header), encode_base64url($payload), $sig // '';
}

# --- processes: nginx and spa-authd in a temp prefix

sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1', LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub expand {
    my ($text) = @_;
    return '' unless defined $text;
    my $d = data_dir();
    $text =~ s/\@PORT\@/$PORT/g;
    $text =~ s/\@ECHO_PORT\@/$ECHO_PORT/g;
    $text =~ s/\@DATA\@/$d/g;
    $text =~ s/\@DIR\@/$DIR/g;
    $text =~ s/\{\{(.*?)\}\}/my $v = eval "package main; $1"; die "in {{$1}}: $@" if $@; $v/ges;
    return $text;
}

sub nginx_conf {
    my (%b) = @_;
    my $workers = $b{workers} || 1;
    my $user = $> == 0 ? 'user root;' : '';
    return <<"CONF";
load_module $BUILD/ngx_http_spa_auth_module.so;
$user
worker_processes $workers;
daemon on;
pid $DIR/logs/nginx.pid;
error_log $DIR/logs/error.log info;
@{[ $b{faketime_file} ? join(' ', map { "env $_;" } sort keys %{{ faketime_env($b{faketime_file}, $b{fake_monotonic}) }}) : '' ]} @{[ expand($b{main_config}) ]}
events { worker_connections @{[ $b{worker_connections} || 1024 ]}; }
http {
    access_log $DIR/logs/access.log;
    client_body_temp_path $DIR/tmp/body;
    proxy_temp_path $DIR/tmp/proxy;
    fastcgi_temp_path $DIR/tmp/fastcgi;
    uwsgi_temp_path $DIR/tmp/uwsgi;
    scgi_temp_path $DIR/tmp/scgi;
    default_type text/plain;
@{[ expand($b{http_config}) ]}
    server {
        listen 127.0.0.1:$PORT;
        server_name localhost;
        root $DIR/html;
@{[ expand($b{config}) ]}
    }
    # Stands in for a microservice: shows the identity headers it received.
    server {
        listen 127.0.0.1:$ECHO_PORT;
        location / {
            return 200 "sub=\$http_x_user_sub\\nemail=\$http_x_user_email\\nrole=\$http_x_user_role\\nsid=\$http_x_user_sid\\nclaim=\$http_x_claim\\n";
        }
    }
}
CONF
}

sub prepare_prefix {
    $DIR = tempdir('spa-nginx-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $DIR;
    make_path("$DIR/logs", "$DIR/conf", "$DIR/tmp", "$DIR/html");
    write_file("$DIR/html/t", "ok\n");
    write_file("$DIR/html/index.html", "index\n");
    $PORT = free_port();
    $ECHO_PORT = free_port();
    $ECHO_PORT = free_port() while $ECHO_PORT == $PORT;
}

sub error_log_text {
    open my $fh, '<', "$DIR/logs/error.log" or return '';
    local $/;
    my $t = <$fh>;
    close $fh;
    return $t // '';
}

# --- a clock that jumps: libfaketime reading its offset from a file
#
# faketime_file => PATH (start_nginx, start_authd): the process's wall
# clock is the real one plus the offset in PATH ("+0", "-3600s"), read
# again on every call (FAKETIME_NO_CACHE), so set_clock(PATH, '+3600s')
# steps it at once, as NTP stepping the machine's clock would. The
# monotonic clock stays real (NTP never steps it) unless fake_monotonic => 1.
# Under SANITIZE=1 the sanitizer's runtimes stay first in LD_PRELOAD.
my $FAKETIME_LIB = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

sub set_clock {
    my ($path, $offset) = @_;
    write_file("$path.tmp", "$offset\n");
    rename "$path.tmp", $path or die "rename $path: $!";
}

# nginx with the sanitizer build's module and libfaketime both preloaded
# deadlocks at start (libfaketime's set-up looks symbols up while ASan's
# allocator is held: dlsym -> malloc). spa-authd under faketime runs there;
# a file that puts nginx under a faked clock skips under SANITIZE=1.
sub skip_faked_nginx_under_sanitizers {
    plan(skip_all => 'nginx under libfaketime deadlocks with the ASan runtime preloaded; runs in the ordinary build')
        if $ENV{SPA_SANITIZER_PRELOAD};
}

sub faketime_env {
    my ($file, $fake_monotonic) = @_;
    set_clock($file, '+0') unless -e $file;
    my %env = (FAKETIME_TIMESTAMP_FILE => $file, FAKETIME_NO_CACHE => 1);
    $env{FAKETIME_DONT_FAKE_MONOTONIC} = 1 unless $fake_monotonic;
    return %env;
}

# The command that runs nginx: SPA_NGINX, with libfaketime preloaded after
# whatever SPA_NGINX preloads itself ("env LD_PRELOAD=... nginx"). nginx
# clears its workers' environment, where libfaketime reads its settings
# on every call: nginx_conf keeps them with `env NAME;`.
sub nginx_command {
    my (%b) = @_;
    return $NGINX unless $b{faketime_file};
    my %env = faketime_env($b{faketime_file}, $b{fake_monotonic});
    my $cmd = $NGINX;
    my $preload = $cmd =~ s/^env LD_PRELOAD=(\S+) // ? "$1:$FAKETIME_LIB" : $FAKETIME_LIB;
    return join ' ', 'env -u FAKETIME', "LD_PRELOAD=$preload", (map { "$_=$env{$_}" } sort keys %env), $cmd;
}

# Starts nginx for a block; returns (ok, output of nginx -t).
sub start_nginx {
    my (%b) = @_;
    prepare_prefix() unless $b{reuse_prefix};
    my $NGINX = nginx_command(%b);
    # free_port's port may be taken by a parallel test before nginx binds
    # it: then another port, and the error log as it was before.
    for my $attempt (1 .. 4) {
        my $log_size = -s "$DIR/logs/error.log" // 0;
        write_file("$DIR/conf/nginx.conf", nginx_conf(%b));
        my $test = `$NGINX -p $DIR -c $DIR/conf/nginx.conf -t 2>&1`;
        return (0, $test) if $?;
        my $out = `$NGINX -p $DIR -c $DIR/conf/nginx.conf 2>&1`;
        my $started = $? == 0;
        if ($attempt < 4 && index(substr(error_log_text(), $log_size) . $out, 'Address already in use') >= 0) {
            if ($started && open my $fh, '<', "$DIR/logs/nginx.pid") {
                chomp($NGINX_PID = <$fh>);
                stop_nginx();
            }
            truncate "$DIR/logs/error.log", $log_size;
            $PORT = free_port();
            $PORT = free_port() while $PORT == $ECHO_PORT;
            next;
        }
        return (0, $out) unless $started;
        for (1 .. 200) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $PORT, Timeout => 1);
            if ($s) { close $s; last }
            sleep 0.02;
        }
        open my $fh, '<', "$DIR/logs/nginx.pid" or return (0, "no pid file");
        chomp($NGINX_PID = <$fh>);
        close $fh;
        return (1, $test);
    }
}

# The daemonized master is not our child; once it exits it may linger as a
# zombie until init reaps it, so a zombie counts as gone.
sub alive {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh>;
    close $fh;
    return $stat !~ /^\d+ \(.*\) Z/;
}

sub stop_nginx {
    return unless $NGINX_PID;
    kill 'QUIT', $NGINX_PID;
    for (1 .. 500) {
        last unless alive($NGINX_PID);
        sleep 0.01;
    }
    kill 'KILL', $NGINX_PID if kill 0, $NGINX_PID;
    undef $NGINX_PID;
}

# spa-authd for a test, in this block's prefix: @DIR@/authd/{keys,store},
# socket @DIR@/authd.sock, JWKS @DIR@/authd/jwks.json.
my $AUTHD_PID;

sub authd_toml {
    my (%o) = @_;
    my $extra = $o{extra} // '';
    return <<"TOML";
[server]
socket = "$DIR/authd.sock"
[store]
path = "$DIR/authd/store"
[tokens]
issuer = "https://app.example.com"
audience = "spa"
key_dir = "$DIR/authd/keys"
jwks_file = "$DIR/authd/jwks.json"
mode = "@{[ $o{mode} // 'both' ]}"
refresh_grace = "@{[ $o{grace} // 10 ]}s"
[security]
allowed_origins = ["https://app.example.com"]
require_verified_email = @{[ $o{verified_email} ? 'true' : 'false' ]}
@{[ defined $o{admin_mfa} ? 'admin_require_mfa = ' . ($o{admin_mfa} ? 'true' : 'false') : '' ]}
[mfa]
secret_key_file = "$DIR/authd/mfa.key"
$extra
TOML
}

sub start_authd {
    my (%o) = @_;
    my $conf = "$DIR/authd.toml";
    write_file($conf, $o{toml} // authd_toml(%o));
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$DIR/logs/authd.log" or die;
        open STDERR, '>&', \*STDOUT or die;
        # faketime => '+660s': spa-authd's clock runs ahead of nginx's
        # (Debian's libfaketime, preloaded so that the pid is spa-authd's own).
        if ($o{faketime}) {
            # Under SANITIZE=1 the sanitizer's runtime must come first.
            $ENV{LD_PRELOAD} = join ':', grep { $_ } $ENV{SPA_SANITIZER_PRELOAD},
                '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';
            $ENV{FAKETIME} = $o{faketime};
            $ENV{FAKETIME_DONT_FAKE_MONOTONIC} = 1;
        } elsif ($o{faketime_file}) {
            $ENV{LD_PRELOAD} = join ':', grep { $_ } $ENV{SPA_SANITIZER_PRELOAD}, $FAKETIME_LIB;
            delete $ENV{FAKETIME};
            my %env = faketime_env($o{faketime_file}, $o{fake_monotonic});
            @ENV{keys %env} = values %env;
        }
        exec "$BUILD/spa-authd", '--config', $conf or die "exec: $!";
    }
    $AUTHD_PID = $pid;
    # Ready when the socket accepts: after a kill -9 the old file is still there.
    require IO::Socket::UNIX;
    for (1 .. 300) {
        return $pid if -f "$DIR/authd/jwks.json"
            && IO::Socket::UNIX->new(Type => IO::Socket::UNIX::SOCK_STREAM(), Peer => "$DIR/authd.sock");
        last if waitpid($pid, 1) > 0;
        sleep 0.02;
    }
    die "spa-authd did not start:\n" . `cat $DIR/logs/authd.log`;
}

# SIGTERM (or another signal) and wait; returns the exit status.
sub stop_authd {
    my ($signal) = @_;
    return undef unless $AUTHD_PID;
    kill $signal // 'TERM', $AUTHD_PID;
    waitpid($AUTHD_PID, 0);
    my $status = $?;
    undef $AUTHD_PID;
    return $status;
}

# Only the test process cleans up; forked clients leave nginx alone.
my $OWNER = $$;
# spa-authd gets SIGTERM first, so that under SANITIZE=1 its leak check
# runs at exit (a kill -9 would skip it); KILL only if it does not stop.
END {
    local $?;
    if ($$ == $OWNER) {
        stop_nginx();
        if ($AUTHD_PID) {
            kill 'TERM', $AUTHD_PID;
            for (1 .. 500) { last if waitpid($AUTHD_PID, POSIX::WNOHANG()) != 0; sleep 0.02 }
            kill 'KILL', $AUTHD_PID;
            waitpid($AUTHD_PID, 0);
        }
    }
}

# One HTTP/1.1 request with Connection: close; returns a hash with
# status, headers (lowercased name => [values]) and body.
# --- requests

sub http_request {
    my ($request, $headers, %o) = @_;
    my ($line, $body) = split /\n/, $request, 2;
    $line =~ s/\s+$//;
    $line .= ' HTTP/1.1' unless $line =~ m{ HTTP/1\.[01]$};
    my $raw = "$line\r\nHost: localhost\r\nConnection: close\r\n";
    for my $h (split /\n/, $headers // '') {
        next unless length $h;
        $raw .= "$h\r\n";
    }
    $body //= '';
    # As browsers and curl do: a body-less POST still says Content-Length: 0.
    $raw .= "Content-Length: " . length($body) . "\r\n" if length $body || $line =~ /^(POST|PUT|PATCH|DELETE) /;
    $raw .= "\r\n$body";
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $o{port} || $PORT, Timeout => 10)
        or die "connect: $!";
    print $s $raw;
    local $/;
    my $resp = <$s> // '';
    close $s;
    my ($head, $content) = split /\r\n\r\n/, $resp, 2;
    my @lines = split /\r\n/, $head // '';
    my $status_line = shift @lines // '';
    my ($status) = $status_line =~ m{^HTTP/1\.\d (\d{3})};
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{ $h{lc $k} }, $v;
    }
    $content //= '';
    if (($h{'transfer-encoding'}[0] // '') =~ /chunked/i) {
        my $decoded = '';
        while ($content =~ s/^([0-9a-fA-F]+)\r\n//) {
            my $n = hex $1;
            last if $n == 0;
            $decoded .= substr($content, 0, $n, '');
            $content =~ s/^\r\n//;
        }
        $content = $decoded;
    }
    return { status => $status // 0, headers => \%h, body => $content };
}

# A request to a JSON API: BODY undef (none), a reference (encoded) or a
# string (sent as is). The answer gets {json}, {} when it is not JSON.
sub json_request {
    my ($method, $path, $body, @headers) = @_;
    my $req = "$method $path";
    $req .= "\n" . (ref $body ? encode_json($body) : $body) if defined $body;
    my $r = http_request($req, join("\n", 'Content-Type: application/json', @headers));
    $r->{json} = eval { decode_json($r->{body}) } // {};
    return $r;
}

# "401 invalid_token": the status and the envelope's error code.
# A named step of a flow story: its checks run as one subtest, so a
# failure says which step it was in; what later steps need is declared
# before the first step. A step that only sets things up passes when it
# runs to its end (an exception in it fails it, with its message).
sub step {
    my ($name, $code) = @_;
    return subtest($name, sub {
        $code->();
        pass("$name: ran to its end") if Test::More->builder->current_test == 0;
    });
}

sub error_of { my ($r) = @_; "$r->{status} " . ($r->{json}{error}{code} // '') }

# --- blocks: the __DATA__ dialect

sub parse_blocks {
    my ($text) = @_;
    my @blocks;
    for my $chunk (split /^=== /m, $text) {
        next unless $chunk =~ /\S/;
        my ($name, $rest) = split /\n/, $chunk, 2;
        my %b = (name => $name);
        my @parts = split /^--- /m, $rest // '';
        shift @parts;
        for my $p (@parts) {
            my ($head, $value) = split /\n/, $p, 2;
            $head =~ s/\s+$//;
            if ($head =~ /^(\w+):\s*(.*)$/) { $b{$1} = $2; next }
            $value //= '';
            $value =~ s/\n+\z/\n/;
            $value = '' if $value =~ /^\s*\z/;
            $b{$head} = $value;
        }
        push @blocks, \%b;
    }
    return @blocks;
}

sub lines_of {
    my ($text) = @_;
    return grep { length } map { s/^\s+|\s+$//gr } split /\n/, $text // '';
}

sub check_response {
    my ($b, $r) = @_;
    my $name = $b->{name};
    if (defined $b->{error_code}) {
        is($r->{status}, $b->{error_code} =~ s/\s+//gr, "$name: status");
    }
    for my $line (lines_of(expand($b->{response_headers}))) {
        if ($line =~ /^!\s*(.+)$/) {
            ok(!exists $r->{headers}{lc $1}, "$name: no $1 header");
            next;
        }
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/;
        is(join(', ', @{ $r->{headers}{lc $k} // [] }), $v, "$name: header $k");
    }
    for my $line (lines_of(expand($b->{response_headers_like}))) {
        my ($k, $v) = $line =~ /^([^:]+):\s*(.*)$/;
        like(join(', ', @{ $r->{headers}{lc $k} // [] }), qr/$v/, "$name: header $k like");
    }
    is($r->{body}, expand($b->{response_body}), "$name: body") if defined $b->{response_body};
    if (defined $b->{response_body_like}) {
        my $re = expand($b->{response_body_like});
        chomp $re;
        like($r->{body}, qr/$re/s, "$name: body like");
    }
}

sub check_log {
    my ($b, $log) = @_;
    my $name = $b->{name};
    my @want = lines_of(expand($b->{error_log}));
    for my $line (@want) {
        ok(index($log, $line) >= 0, "$name: log has \"$line\"") or diag($log);
    }
    for my $line (lines_of(expand($b->{no_error_log}))) {
        ok(index($log, $line) < 0, "$name: log lacks \"$line\"");
    }
    my $access = join '', map { local $/; open my $fh, '<', $_ or die; <$fh> }
        grep { !/error\.log$/ } glob("$DIR/logs/*.log");
    for my $line (lines_of(expand($b->{access_log}))) {
        ok(index($access, $line) >= 0, "$name: access log has \"$line\"") or diag($access);
    }
    # Success cases (and every case not about errors) leave no errors behind.
    unless (grep { /\[(error|alert|crit|emerg)\]/ } @want) {
        my @bad = grep { /\[(error|alert|crit|emerg)\]/ } split /\n/, $log;
        ok(!@bad, "$name: no [error] or worse in the log") or diag(join "\n", @bad);
    }
}

sub run_blocks {
    my $text = do { no warnings 'once'; local $/; my $fh = \*main::DATA; <$fh> };
    data_dir();
    for my $b (parse_blocks($text)) {
        my ($ok, $out) = start_nginx(%$b);
        if (defined $b->{must_die}) {
            ok(!$ok, "$b->{name}: nginx -t fails");
            for my $line (lines_of(expand($b->{error_log}))) {
                ok(index($out, $line) >= 0, "$b->{name}: nginx -t says \"$line\"") or diag($out);
            }
            stop_nginx();
            next;
        }
        unless ($ok) {
            fail("$b->{name}: nginx starts");
            diag($out);
            next;
        }
        my $req = expand($b->{request} // "GET /t\n");
        chomp $req;
        my $r = http_request($req, expand($b->{more_headers}));
        check_response($b, $r);
        sleep 0.05;  # let the worker flush the request's log lines
        stop_nginx();
        check_log($b, error_log_text());
    }
    done_testing();
}

1;
