# docs/reference.md against the code, so it cannot drift: every directive
# of ngx_http_spa_auth_module/directive_list.h has a "### name" entry with
# its Syntax, Default and Context lines (Context: the levels the list
# gives it), every key authd/config.cc accepts has a row under its
# "### [table]" heading, every variable the module registers is in the
# variables table, and nothing documented is unknown to the code.
#
# SPA_REFERENCE=FILE checks another file.
use strict;
use warnings;
use Test::More;

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or die "$file: $!";
    local $/;
    return <$fh>;
}

my $ref_file = $ENV{SPA_REFERENCE} // 'docs/reference.md';
my $ref = slurp($ref_file);

# --- directives
my %levels;  # name => "http, server, location"
for my $line (split /\n/, slurp('ngx_http_spa_auth_module/directive_list.h')) {
    my ($name, $type) = $line =~ /^SPA_DIRECTIVE\("(\w+)",\s*([^,]+),/ or next;
    $levels{$name} = $type =~ /kAnyLevel/ ? 'http, server, location'
                   : join(', ', grep { $type =~ /NGX_HTTP_\U$_\E_CONF/ } qw(main srv loc));
    $levels{$name} =~ s/\bmain\b/http/;
    $levels{$name} =~ s/\bsrv\b/server/;
    $levels{$name} =~ s/\bloc\b/location/;
}
cmp_ok(scalar(keys %levels), '>=', 20, 'directive_list.h read');

my ($directives_part) = $ref =~ /^## nginx directives\n(.*?)^## /ms or die 'no "## nginx directives" section';
my %entry;
for my $chunk (split /^### /m, $directives_part) {
    my ($name) = $chunk =~ /^(\w+)\n/ or next;
    $entry{$name} = $chunk;
}
for my $name (sort keys %levels) {
    my $e = $entry{$name};
    ok($e, "directive $name has an entry") or next;
    like($e, qr/^- Syntax: `\Q$name\E[ ;]/m, "$name: Syntax line");
    like($e, qr/^- Default: \S/m, "$name: Default line");
    like($e, qr/^- Context: \Q$levels{$name}\E$/m, "$name: Context is $levels{$name}");
    like($e, qr/^```nginx\n.*\b\Q$name\E\b/ms, "$name: an example");
}
for my $name (sort keys %entry) {
    ok($levels{$name}, "documented directive $name is in directive_list.h");
}

# --- variables
my $lifecycle = slurp('ngx_http_spa_auth_module/lifecycle.cpp');
my @vars = $lifecycle =~ /\{"(spa_auth_\w+)", get_/g;
push @vars, 'spa_auth_claim_NAME' if $lifecycle =~ /kClaimPrefix = "spa_auth_claim_"/;
cmp_ok(scalar(@vars), '>=', 6, 'the module\'s variables read');
my ($vars_part) = $ref =~ /^## Variables\n(.*?)^## /ms or die 'no "## Variables" section';
my %documented_vars = map { $_ => 1 } $vars_part =~ /^\| `\$(spa_auth_\w+)` \|/mg;
ok($documented_vars{$_}, "variable \$$_ is documented") for @vars;
my %known_vars = map { $_ => 1 } @vars;
ok($known_vars{$_}, "documented variable \$$_ exists") for sort keys %documented_vars;

# --- spa-authd keys: [table] => {key => 1}
my $config = slurp('authd/config.cc');
my %keys;
while ($config =~ /c\.table\(doc, "(\w+)",\s*\{(.*?)\}\);/gs) {
    my ($table, $body) = ($1, $2);
    $keys{$table}{$_} = 1 for $body =~ /\{"(\w+)",/g;
}
$keys{oauth}{$_} = 1 for $config =~ /name\.str\(\) == "(\w+)"/g;
$keys{'oauth.NAME'}{$_} = 1 for $config =~ /field == "(\w+)"/g;
my ($tables) = $config =~ /kTables = \{(.*?)\};/s;
my %tables = map { $_ => 1 } $tables =~ /"(\w+)"/g;
ok($keys{$_} || $_ eq 'oauth', "config.cc: the keys of [$_] read") for sort keys %tables;
cmp_ok(scalar(map { keys %$_ } values %keys), '>=', 35, 'config.cc\'s keys read');

my ($config_part) = $ref =~ /^## spa-authd configuration\n(.*)\z/ms or die 'no "## spa-authd configuration" section';
my %documented_keys;
for my $chunk (split /^### /m, $config_part) {
    my ($table) = $chunk =~ /^\[([\w.]+)\]\n/ or next;
    $documented_keys{$table}{$_} = 1 for $chunk =~ /^\| `(\w+)` \|/mg;
}
for my $table (sort keys %keys) {
    ok($documented_keys{$table}, "[$table] has a section") or next;
    ok($documented_keys{$table}{$_}, "[$table] $_ is documented") for sort keys %{ $keys{$table} };
}
for my $table (sort keys %documented_keys) {
    ok($keys{$table}{$_}, "documented [$table] $_ is a key config.cc accepts") for sort keys %{ $documented_keys{$table} };
}

done_testing();
