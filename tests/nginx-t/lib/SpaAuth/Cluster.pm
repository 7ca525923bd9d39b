package SpaAuth::Cluster;
# Several nodes on one private PostgreSQL (issue 18): each node a directory
# of its own with nginx (the module, reading the node's mirror) and
# spa-authd ([store] backend = "postgresql"), on loopback ports and Unix
# sockets, as a load balancer would see them. The MFA key and the
# key-encryption key (the signing keys are in the database, sealed under
# it) are the first node's, copied to the others before they start (what
# an operator copies to every node).
#
#   my $c = SpaAuth::Cluster->start(nodes => 2, max_staleness => '3s', ws_port => $port);
#   (ws_port: a WebSocket service behind /ws/ on every node, rechecked every second)
#   SpaAuth::Cluster->start(..., tls => 1): each node also serves HTTPS on
#   $c->node($i)->{tls_port} (a self-signed certificate for localhost), and
#   $c->browse(GET => $url) is a curl browser with one cookie jar for the
#   whole cluster (cookies are not scoped by port: one site behind a load
#   balancer), as SpaAuth::Shipped's; SpaAuth::OidcProvider signs in with it.
#   my $r = $c->api(0, POST => '/api/v1/auth/login', {...}, @headers);
#   $c->get(1, '/svc/t', "Authorization: Bearer $token")->{status};
#   $c->stop_authd(0, 'KILL'); $c->start_authd(0);
#   $c->pg->stop; $c->pg->start_again;
#   durable => 1: a PostgreSQL that syncs its commits (bench/cluster.pl).
#   SpaAuth::Cluster->start(nodes => 1, backend => 'lmdb'): a single machine
#   (the PostgreSQL server runs, unused); $c->set_backend(0, 'postgresql')
#   rewrites its authd.toml; $c->authd_cmd(0, 'db', 'import') runs a
#   command with the node's configuration: (exit code, output).
use strict;
use warnings;
use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Socket::UNIX;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep);
use SpaAuth::Pg;
use SpaAuth::Shipped ();
use SpaAuth::Test ();

my $why = '';
sub why { $why }

sub start {
    my ($class, %o) = @_;
    my $pg = SpaAuth::Pg->start(durable => $o{durable}) or do { $why = SpaAuth::Pg::why(); return undef };
    my $self = bless { pg => $pg, nodes => [], o => \%o, owner => $$ }, $class;
    for my $i (0 .. ($o{nodes} // 2) - 1) {
        my $dir = tempdir("spa-node$i-XXXXXX", TMPDIR => 1, CLEANUP => 1);
        chmod 0755, $dir;
        make_path("$dir/logs", "$dir/tmp", "$dir/html/svc", "$dir/authd");
        SpaAuth::Test::write_file("$dir/html/svc/t", "ok\n");
        push @{ $self->{nodes} }, { dir => $dir, name => chr(ord('A') + $i), port => SpaAuth::Test::free_port(),
                                    backend => $o{backend} // 'postgresql',
                                    $o{tls} ? (tls_port => SpaAuth::Test::free_port()) : () };
    }
    if ($o{tls}) {
        $self->{tls} = tempdir('spa-cluster-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        chmod 0755, $self->{tls};
        $self->{jar} = "$self->{tls}/cookies.txt";
        system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost"
               . " -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout $self->{tls}/key.pem -out $self->{tls}/cert.pem"
               . " 2>/dev/null") == 0
            or do { $why = 'openssl req failed'; return undef };
    }
    $self->write_toml($_) for 0 .. $#{ $self->{nodes} };
    if ($self->{nodes}[0]{backend} eq 'postgresql') {
        my ($rc, $migrate) = $self->authd_cmd(0, 'db', 'migrate');
        if ($rc) { $why = "db migrate: $migrate"; return undef }
    }
    for my $i (0 .. $#{ $self->{nodes} }) {
        if ($i > 0) {  # the first node's key files, as an operator would copy them
            my ($from, $to) = ("$self->{nodes}[0]{dir}/authd", "$self->{nodes}[$i]{dir}/authd");
            for my $f ('mfa.key', 'kek.key') {
                copy("$from/$f", "$to/$f") or die "copy $f: $!";
                chmod 0600, "$to/$f";
            }
        }
        $self->start_authd($i) or return undef;
        $self->start_nginx($i) or return undef;
    }
    return $self;
}

sub pg { $_[0]{pg} }
sub node { $_[0]{nodes}[$_[1]] }
sub count { scalar @{ $_[0]{nodes} } }

sub write_toml {
    my ($self, $i) = @_;
    my $n = $self->{nodes}[$i];
    my $o = $self->{o};
    my $database = $n->{backend} eq 'postgresql' ? 'postgresql = "' . $self->{pg}->conninfo . '"' : '';
    SpaAuth::Test::write_file("$n->{dir}/authd.toml", <<"TOML");
[server]
socket = "$n->{dir}/authd.sock"
[store]
backend = "$n->{backend}"
$database
path = "$n->{dir}/authd/store"
max_staleness = "@{[ $o->{max_staleness} // '30s' ]}"
[tokens]
issuer = "https://app.example.com"
audience = "spa"
key_dir = "$n->{dir}/authd/keys"
jwks_file = "$n->{dir}/authd/jwks.json"
key_encryption_key_file = "$n->{dir}/authd/kek.key"
mode = "both"
refresh_grace = "@{[ $o->{grace} // 10 ]}s"
[security]
allowed_origins = ["https://app.example.com"]
require_verified_email = false
[mfa]
secret_key_file = "$n->{dir}/authd/mfa.key"
@{[ $o->{authd_extra} // '' ]}
TOML
}

sub set_backend {
    my ($self, $i, $backend) = @_;
    $self->{nodes}[$i]{backend} = $backend;
    $self->write_toml($i);
}

sub authd_cmd {
    my ($self, $i, @args) = @_;
    my $out = `@{[ SpaAuth::Test::build_dir() ]}/spa-authd @args --config $self->{nodes}[$i]{dir}/authd.toml 2>&1`;
    return ($? >> 8, $out);
}

sub start_authd {
    my ($self, $i) = @_;
    my $n = $self->{nodes}[$i];
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', "$n->{dir}/logs/authd.log" or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec SpaAuth::Test::build_dir() . '/spa-authd', '--config', "$n->{dir}/authd.toml" or POSIX::_exit(127);
    }
    $n->{authd} = $pid;
    for (1 .. 500) {
        return 1 if -f "$n->{dir}/authd/jwks.json"
            && IO::Socket::UNIX->new(Type => IO::Socket::UNIX::SOCK_STREAM(), Peer => "$n->{dir}/authd.sock");
        if (waitpid($pid, POSIX::WNOHANG()) > 0) { delete $n->{authd}; last }
        sleep 0.02;
    }
    $why = "spa-authd of node $n->{name} did not start: " . $self->authd_log($i);
    return 0;
}

sub stop_authd {
    my ($self, $i, $signal) = @_;
    my $n = $self->{nodes}[$i];
    my $pid = delete $n->{authd} or return;
    kill $signal // 'TERM', $pid;
    waitpid($pid, 0);
}

sub start_nginx {
    my ($self, $i) = @_;
    my $n = $self->{nodes}[$i];
    my $user = $> == 0 ? 'user root;' : '';
    my $build = SpaAuth::Test::build_dir();
    my $nginx = $ENV{SPA_NGINX} || '/usr/sbin/nginx';
    SpaAuth::Test::write_file("$n->{dir}/nginx.conf", <<"CONF");
load_module $build/ngx_http_spa_auth_module.so;
$user
worker_processes 1;
daemon on;
pid $n->{dir}/logs/nginx.pid;
error_log $n->{dir}/logs/error.log info;
events { worker_connections 1024; }
http {
    access_log $n->{dir}/logs/access.log;
    client_body_temp_path $n->{dir}/tmp/body;
    proxy_temp_path $n->{dir}/tmp/proxy;
    default_type text/plain;
    spa_auth_jwks_file $n->{dir}/authd/jwks.json;
    spa_auth_session_store $n->{dir}/authd/store;
    spa_auth_issuer https://app.example.com;
    spa_auth_audience spa;
    server {
        listen 127.0.0.1:$n->{port};
@{[ $n->{tls_port} ? "        listen 127.0.0.1:$n->{tls_port} ssl;
        ssl_certificate $self->{tls}/cert.pem;
        ssl_certificate_key $self->{tls}/key.pem;" : '' ]}
        root $n->{dir}/html;
        location ~ ^/api/v1/(auth|mfa|oauth|admin)/ {
            spa_auth_pass_token on;
            proxy_pass http://unix:$n->{dir}/authd.sock;
        }
        location /svc/ { spa_auth on; add_header X-Result \$spa_auth_result always; }
@{[ $self->{o}{ws_port} ? "        location /ws/ { spa_auth on; spa_auth_websocket on; spa_auth_websocket_recheck 1s;
            proxy_pass http://127.0.0.1:$self->{o}{ws_port}; }" : '' ]}
    }
}
CONF
    for my $attempt (1 .. 4) {
        my $out = `$nginx -p $n->{dir} -c $n->{dir}/nginx.conf 2>&1`;
        if ($? == 0) {
            for (1 .. 200) {
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $n->{port}, Timeout => 1);
                if ($s) { close $s; last }
                sleep 0.02;
            }
            open my $fh, '<', "$n->{dir}/logs/nginx.pid" or last;
            chomp($n->{nginx} = <$fh>);
            return 1;
        }
        # (a port taken between free_port and the bind: others)
        if ($out =~ /Address already in use/ && $attempt < 4) {
            $n->{port} = SpaAuth::Test::free_port();
            $n->{tls_port} = SpaAuth::Test::free_port() if $n->{tls_port};
            next;
        }
        $why = "nginx of node $n->{name}: $out";
        return 0;
    }
    $why = "nginx of node $n->{name} did not start";
    return 0;
}

sub http {
    my ($self, $i, $request, @headers) = @_;
    return SpaAuth::Test::http_request($request, join("\n", @headers), port => $self->{nodes}[$i]{port});
}
sub get { my ($self, $i, $path, @headers) = @_; $self->http($i, "GET $path", @headers) }
# (tls => 1) A browser's request: curl with the cluster's cookie jar.
sub browse { my $self = shift; SpaAuth::Shipped::browse($self, @_) }
sub cookie { my $self = shift; SpaAuth::Shipped::cookie($self, @_) }
sub https_base { my ($self, $i) = @_; "https://localhost:$self->{nodes}[$i]{tls_port}" }

# A request to the JSON API of node i (BODY undef, a reference or a string).
sub api {
    my ($self, $i, $method, $path, $body, @headers) = @_;
    my $req = "$method $path";
    $req .= "\n" . (ref $body ? encode_json($body) : $body) if defined $body;
    my $r = $self->http($i, $req, 'Content-Type: application/json', @headers);
    $r->{json} = eval { decode_json($r->{body}) } // {};
    return $r;
}

sub authd_log { my ($self, $i) = @_; local $/; open my $fh, '<', "$self->{nodes}[$i]{dir}/logs/authd.log" or return ''; <$fh> // '' }
sub error_log { my ($self, $i) = @_; local $/; open my $fh, '<', "$self->{nodes}[$i]{dir}/logs/error.log" or return ''; <$fh> // '' }

sub DESTROY {
    my ($self) = @_;
    return unless $$ == $self->{owner};
    local $?;
    for my $n (@{ $self->{nodes} }) {
        if ($n->{nginx}) {
            kill 'QUIT', $n->{nginx};
            for (1 .. 300) { last unless kill 0, $n->{nginx}; sleep 0.01 }
            kill 'KILL', $n->{nginx} if kill 0, $n->{nginx};
        }
        if (my $pid = delete $n->{authd}) {
            kill 'TERM', $pid;
            for (1 .. 300) { last if waitpid($pid, POSIX::WNOHANG()) != 0; sleep 0.02 }
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
    }
    delete $self->{pg};  # (its own DESTROY stops the server)
}

1;
