#!/usr/bin/perl
# The browser journey (tests/e2e/journey.mjs): Debian's chromium, driven by
# playwright-core, through the shipped conf/nginx.conf and spa-authd with
# the demo SPA, a real OpenID provider (oidc-provider), the mail sink and
# the demo services. This file starts them; journey.mjs prints the TAP.
#
# Differences from `make run`: access tokens live 1 minute (the WebSocket
# step waits for one to expire), the step-up location's spa_auth_max_age
# is 30 s (so the re-authentication prompt shows within the run), and the
# rate limits are raised (many_requests): one browser does what a crowd would.
use strict;
use warnings;
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use SpaAuth::OidcProvider;
use SpaAuth::Shipped;
use SpaAuth::SmtpSink;
use SpaAuth::Test ();

$| = 1;
if (!-x '/usr/bin/chromium' || !-d 'tests/peers/node_modules/playwright-core') {
    print "1..0 # SKIP no /usr/bin/chromium or playwright-core (make deps installs both)\n";
    exit 0;
}
my $port = SpaAuth::Test::free_port();
my $secrets = tempdir('spa-e2e-XXXXXX', TMPDIR => 1, CLEANUP => 1);
SpaAuth::Test::write_file("$secrets/client-secret", "e2e provider secret\n");
chmod 0600, "$secrets/client-secret" or die;
my $op = SpaAuth::OidcProvider->start(client_id => 'spa-e2e', client_secret => 'e2e provider secret',
                                      redirect_uri => "https://localhost:$port/api/v1/oauth/dev/callback");
my ($smtp_port, $smtp_pid) = SpaAuth::SmtpSink::start("$secrets/mail");
END { kill 'TERM', $smtp_pid if $smtp_pid }
my $s = SpaAuth::Shipped::start(
    port => $port,
    smtp_port => $smtp_port,
    verified_email => 1,
    many_requests => 1,
    before_authd => sub {
        my ($state) = @_;
        my $toml = do { local $/; open my $fh, '<', "$state/authd.toml" or die; <$fh> };
        $toml =~ s/^access_ttl = "15m"/access_ttl = "1m"/m or die 'no access_ttl in authd.toml';
        SpaAuth::Test::write_file("$state/authd.toml", $toml);
        my $conf = do { local $/; open my $fh, '<', "$state/nginx.conf" or die; <$fh> };
        $conf =~ s/spa_auth_max_age 10m;/spa_auth_max_age 30s;/ or die 'no spa_auth_max_age in nginx.conf';
        SpaAuth::Test::write_file("$state/nginx.conf", $conf);
    },
    authd_toml => <<"TOML");
[oauth.dev]
client_id = "spa-e2e"
client_secret_file = "$secrets/client-secret"
redirect_uri = "https://localhost:$port/api/v1/oauth/dev/callback"
discovery = "$op->{issuer}/.well-known/openid-configuration"
TOML
unless ($s->{authd_ok} && $s->{nginx_ok}) {
    print "Bail out! the stack did not start: ", $s->log_text('check.log'), $s->{nginx_t}, "\n";
    exit 1;
}
my $artifacts = ($ENV{SPA_BUILD} // SpaAuth::Test::build_dir()) . '/e2e';
remove_tree($artifacts);
make_path($artifacts);
$ENV{E2E_BASE} = $s->{base};
$ENV{E2E_MAIL} = "$secrets/mail";
$ENV{E2E_ARTIFACTS} = $artifacts;
$ENV{E2E_AUTHD} = SpaAuth::Test::build_dir() . '/spa-authd';
$ENV{E2E_AUTHD_CONFIG} = "$s->{state}/authd.toml";
my $rc = system('node', 'tests/e2e/journey.mjs');
if ($rc != 0) {
    for my $log (qw(authd.log error.log)) {
        my $text = $s->log_text($log);
        $text = substr($text, -4000) if length $text > 4000;
        print STDERR "--- $log (end)\n$text\n";
    }
}
$s->stop;
exit($rc == 0 ? 0 : 1);
