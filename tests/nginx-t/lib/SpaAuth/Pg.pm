package SpaAuth::Pg;
# A private PostgreSQL for the tests (issue 18): a cluster made by initdb in
# a temporary directory, its server listening on a Unix socket in that
# directory only (listen_addresses = ''), run by the unprivileged user
# postgres (initdb and postgres refuse root). Debian's system cluster
# (pg_lsclusters) is never touched.
#
#   my $pg = SpaAuth::Pg->start;   # or undef, with SpaAuth::Pg::why() saying why
#   SpaAuth::Pg->start(durable => 1): fsync on, as a real server (the
#   benchmarks); the tests' server does not sync
#   $pg->psql('select 1');         # one value per line
#   $pg->conninfo;                 # "host=DIR port=PORT user=spa dbname=spa"
#   $pg->stop; $pg->start_again;   # a restart, the data kept
use strict;
use warnings;
use File::Temp qw(tempdir);
use POSIX ();

my $why = '';
sub why { $why }

sub bin_dir {
    my @dirs = sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] } glob('/usr/lib/postgresql/*/bin');
    return (grep { -x "$_/initdb" && -x "$_/pg_ctl" } @dirs)[-1];
}

sub as_postgres {
    my (@cmd) = @_;
    return $> == 0 ? ('runuser', '-u', 'postgres', '--', @cmd) : @cmd;
}

sub run_quiet {
    my ($log, @cmd) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $log or POSIX::_exit(127);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $? == 0;
}

sub start {
    my ($class, %o) = @_;
    my $bin = bin_dir() or do { $why = 'no PostgreSQL server (make deps installs postgresql)'; return undef };
    if ($> == 0 && !getpwnam('postgres')) { $why = 'no user postgres to run the server as'; return undef }
    my $dir = tempdir('spa-pg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam('postgres');
        chown $uid, $gid, $dir or die "chown $dir: $!";
    }
    chmod 0700, $dir;
    my $self = bless { bin => $bin, dir => $dir, data => "$dir/data", log => "$dir/tools.log", server_log => "$dir/server.log",
                       port => $o{port} // 5432, durable => $o{durable} }, $class;
    run_quiet($self->{log}, as_postgres("$bin/initdb", '-D', $self->{data}, '-U', 'spa', '-A', 'trust',
                                        '-E', 'UTF8', '--locale=C', '--no-sync'))
        or do { $why = "initdb failed: " . $self->log_text; return undef };
    $self->start_again or do { $why = "the server did not start: " . $self->log_text; return undef };
    $self->psql('create database spa') // do { $why = 'create database failed'; return undef };
    return $self;
}

sub start_again {
    my ($self) = @_;
    my $opts = "-c listen_addresses='' -c unix_socket_directories='$self->{dir}' -c port=$self->{port}"
             . ($self->{durable} ? '' : ' -c fsync=off');
    return run_quiet($self->{log}, as_postgres("$self->{bin}/pg_ctl", '-D', $self->{data}, '-l', $self->{server_log},
                                               '-o', $opts, '-w', '-t', '30', 'start'));
}

sub stop {
    my ($self) = @_;
    return run_quiet($self->{log}, as_postgres("$self->{bin}/pg_ctl", '-D', $self->{data}, '-m', 'fast', '-w', 'stop'));
}

sub conninfo { my ($self) = @_; "host=$self->{dir} port=$self->{port} user=spa dbname=spa" }
sub dir { $_[0]{dir} }
sub log_text {
    my ($self) = @_;
    local $/;
    my $text = '';
    for my $file ($self->{log}, $self->{server_log}) {
        open my $fh, '<', $file or next;
        $text .= scalar(<$fh>) // '';
    }
    return $text;
}

# The rows of SQL (one per line, columns |-separated), or undef on failure.
sub psql {
    my ($self, $sql) = @_;
    my $db = $sql =~ /^\s*create database/i ? 'postgres' : 'spa';
    open my $fh, '-|', 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-h', $self->{dir}, '-p', $self->{port},
        '-U', 'spa', '-d', $db, '-c', $sql or return undef;
    my $out = do { local $/; <$fh> } // '';
    close $fh or return undef;
    chomp $out;
    return $out;
}

sub DESTROY {
    my ($self) = @_;
    local $?;
    $self->stop if -f "$self->{data}/postmaster.pid";
}

1;
