# The SMTP login: [smtp] username plus the password in a file of its own
# (authd.toml is readable by spa-authd's group, which nginx's user is in).
# What it proves: mail goes out authenticated (the sink requires AUTH and
# records who); a password in the URL, a password file its group may read,
# and a password file without a username are refused by --check-config
# and at start, each naming the key; a wrong password is a failed delivery,
# logged without the password; the MFA key's file is held to the same rule.
use strict;
use warnings;
use lib 'tests/nginx-t/lib';
use SpaAuth::Test;
use SpaAuth::SmtpSink;
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

SpaAuth::Test::prepare_prefix();
my $dir = SpaAuth::Test::prefix();
my $authd = ($ENV{SPA_BUILD} // 'build') . '/spa-authd';
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$dir/mail", 0, auth => 'mailer:correct horse');
END { kill 'TERM', $smtp_pid if $smtp_pid }
my $password_file = "$dir/smtp.password";
write_file($password_file, "correct horse\n");
sub smtp {
    my ($extra, $url) = @_;
    $url //= "smtp://127.0.0.1:$smtp_port";
    return qq{[smtp]\nurl = "$url"\nfrom = "no-reply\@example.com"\n$extra};
}
sub check_config {
    my ($extra, $url) = @_;
    write_file("$dir/check.toml", SpaAuth::Test::authd_toml(mode => 'bearer', extra => smtp($extra, $url)));
    my $o = `$authd --check-config --config $dir/check.toml 2>&1`;
    return ($? >> 8, $o);
}
sub authd_log { local $/; open my $fh, '<', "$dir/logs/authd.log" or return ''; <$fh> // '' }

step 'refused before anything runs' => sub {
    my ($rc, $out) = check_config('', "smtp://mailer:correct%20horse\@127.0.0.1:$smtp_port");
    isnt($rc, 0, 'a password in the URL: --check-config fails');
    like($out, qr/smtp\.url.*must not hold a password/, 'and names the key');
    unlike($out, qr/correct/, 'without repeating the password');
    chmod 0640, $password_file or die;
    ($rc, $out) = check_config(qq{username = "mailer"\npassword_file = "$password_file"\n});
    isnt($rc, 0, 'a password file its group may read: --check-config fails');
    like($out, qr/smtp\.password_file: \Q$password_file\E may be read by its group or others \(mode 640/, 'names the key, the file and the mode');
    ($rc, $out) = check_config(qq{password_file = "$password_file"\n});
    like($out, qr/smtp\.password_file.*needs \[smtp\] username/, 'a password file without a username');
    chmod 0600, $password_file or die;
    ($rc, $out) = check_config(qq{username = "mailer"\npassword_file = "$password_file"\n});
    is($rc, 0, 'mode 0600: --check-config passes') or diag($out);
};

start_authd(mode => 'bearer', extra => smtp(qq{username = "mailer"\npassword_file = "$password_file"\n}));
my ($ok, $out) = start_nginx(
    reuse_prefix => 1,
    config => 'location /api/ { spa_auth_pass_token on; proxy_pass http://unix:@DIR@/authd.sock; }',
);
ok($ok, 'nginx starts') or BAIL_OUT($out);

sub wait_mail {
    my ($count) = @_;
    for (1 .. 500) { my @m = SpaAuth::SmtpSink::messages("$dir/mail"); return @m if @m >= $count; sleep 0.02 }
    return SpaAuth::SmtpSink::messages("$dir/mail");
}

step 'mail goes out logged in' => sub {
    is(json_request(POST => '/api/v1/auth/password-reset/request', { email => 'nobody@example.com' })->{status}, 202, 'reset for an unknown address');
    is(json_request(POST => '/api/v1/auth/signup', { email => 'ann@example.com', username => 'ann', password => 'ann password!' })->{status},
       201, 'a sign-up');
    is(json_request(POST => '/api/v1/auth/password-reset/request', { email => 'ann@example.com' })->{status}, 202, 'a reset for her');
    my @m = wait_mail(1);
    ok(@m >= 1, 'a message arrives');
    like($m[0] // '', qr/^X-Auth-User: mailer$/m, 'sent after AUTH PLAIN as mailer, with the password from the file');
};

step 'a wrong password: a failed delivery, the password not logged' => sub {
    stop_authd();
    write_file($password_file, "wrong horse\n");
    chmod 0600, $password_file or die;
    my @before = SpaAuth::SmtpSink::messages("$dir/mail");
    start_authd(mode => 'bearer', extra => smtp(qq{username = "mailer"\npassword_file = "$password_file"\nretry_for = "0s"\n}));
    is(json_request(POST => '/api/v1/auth/password-reset/request', { email => 'ann@example.com' })->{status}, 202, 'the reset still answers');
    my $failed;
    for (1 .. 500) { last if ($failed) = authd_log() =~ /("event":"mail_failed"[^\n]*)/; sleep 0.02 }
    ok($failed, 'mail_failed is logged') or diag(authd_log());
    is(scalar(SpaAuth::SmtpSink::messages("$dir/mail")), scalar(@before), 'nothing was delivered');
    unlike(authd_log(), qr/horse/, 'neither password appears in the log');
    chmod 0644, $password_file or die;
    stop_authd();
    my $start = `timeout 20 $authd --config $dir/authd.toml 2>&1`;
    like($start, qr/"event":"startup_failed".*smtp\.password_file.*may be read by its group/, 'a loose file at start: startup_failed names it');
    chmod 0600, $password_file or die;
    chmod 0640, "$dir/authd/mfa.key" or die;
    $start = `timeout 20 $authd --config $dir/authd.toml 2>&1`;
    like($start, qr/"event":"startup_failed".*mfa key: .*mfa\.key may be read by its group or others \(mode 640/,
         'the MFA key its group may read: refused at start too');
    chmod 0600, "$dir/authd/mfa.key" or die;
};

stop_nginx();
done_testing();
