# docs/reference.md against the code, so it cannot drift: every directive
# of ngx_http_spa_auth_module/directive_list.h has a "### name" entry with
# its Syntax, Default and Context lines (Context: the levels the list
# gives it) and the default docs/module.md gives it, every key
# authd/config.cc accepts has a row under its
# "### [table]" heading, every variable the module registers is in the
# variables table, and nothing documented is unknown to the code. Each
# key's default is the initial value of the field config.cc stores it in
# (authd/config.h, authd/mail_quota.h).
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

# The defaults: those of docs/module.md's directive table, which
# tests/unit/test_module_docs.cc holds to core/module_defaults.h.
my %module_default;
for (split /\n/, slurp('docs/module.md')) {
    my ($name, $default) = /^\| `(spa_auth\w*)` \| [^|]+ \| ([^|]+?) \|/ or next;
    $module_default{$name} = $default;
}
for my $name (sort keys %levels) {
    my ($default) = ($entry{$name} // '') =~ /^- Default: (.*)$/m;
    is($default, $module_default{$name}, "$name: the default of docs/module.md");
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
my (%documented_keys, %documented_keys_rows);  # rows: [type, default]
for my $chunk (split /^### /m, $config_part) {
    my ($table) = $chunk =~ /^\[([\w.]+)\]\n/ or next;
    $documented_keys{$table}{$_} = 1 for $chunk =~ /^\| `(\w+)` \|/mg;
    $documented_keys_rows{$table}{$1} = [$2, $3] while $chunk =~ /^\| `(\w+)` \| ([^|]+?) \| ([^|]+?) \|/mg;
}
for my $table (sort keys %keys) {
    ok($documented_keys{$table}, "[$table] has a section") or next;
    ok($documented_keys{$table}{$_}, "[$table] $_ is documented") for sort keys %{ $keys{$table} };
}
for my $table (sort keys %documented_keys) {
    ok($keys{$table}{$_}, "documented [$table] $_ is a key config.cc accepts") for sort keys %{ $documented_keys{$table} };
}

# The defaults of the keys: each row's default (its first `value`, or
# "none") is the initial value of the field config.cc stores the key in
# (authd/config.h, authd/mail_quota.h).
my %field;  # "table.key" => C++ field (of Config, OAuthProviderConfig or MailLimits)
while ($config =~ /c\.table\(doc, "(\w+)",\s*\{(.*?)\}\);/gs) {
    my ($table, $body) = ($1, $2);
    $field{"$table.$1"} = $2 while $body =~ /\{"(\w+)",\s*c\.\w+\(out\.([\w.]+)/g;
}
while ($config =~ /c\.\w+\(out\.(\w+)[^)]*\)\("oauth\.(\w+)"/g) { $field{"oauth.$2"} = $1 }
my %required = map { $_ => 1 } $config =~ /c\.error\("(\w+\.\w+)", nullptr, "is required"\)/g;
$field{"oauth.NAME.$1"} = "provider.$2" while $config =~ /field == "(\w+)"\)\s*\{?\s*c\.\w+\(p\.(\w+)\)/g;
$field{'oauth.NAME.scopes'} = 'provider.scopes';
$field{'oauth.NAME.allowed_redirects'} = 'provider.allowed_redirects';
$field{'oauth.login_page'} = 'oauth_login_page';
$field{'security.allowed_origins'} = 'allowed_origins';  # a handler of its own, around c.strings
my $all_keys = map { keys %$_ } values %keys;
is(scalar(keys %field) + 3, $all_keys, 'the field of every key found (and tokens.algorithm, tokens.mode, store.backend)');
my ($algorithm, $mode) = $config =~ /std::string algorithm = "(\w+)", mode = "(\w+)";/ or die 'no algorithm/mode defaults';
my ($backend) = $config =~ /std::string backend = "(\w+)";/ or die 'no store.backend default';

my $config_h = slurp('authd/config.h');
my ($provider_h) = $config_h =~ /struct OAuthProviderConfig \{(.*?)\n\};/s;
my ($config_struct) = $config_h =~ /struct Config \{(.*?)\n\};/s;
sub initial {  # the C++ initializer of a field, as a value
    my ($text, $name) = @_;
    my ($type, $init) = $text =~ /^\s*([\w:<>]+) \Q$name\E(?: = ([^;]+)|(\{[^;]*\}))?;/m or return undef;
    $init //= $3;
    return $type =~ /string$/ ? '' : $type =~ /^std::vector/ ? '[]' : undef unless defined $init;
    return '[' . join(', ', $init =~ /("[^"]*")/g) . ']' if $init =~ /^\{/;
    return $1 if $init =~ /^"(.*)"$/;
    return $init if $init =~ /^(true|false)$/;
    (my $expr = $init) =~ s/u?int64_t\{(\d+)\}/$1/g;
    $expr =~ s/(\d)LL/$1/g;
    return eval $expr if $expr =~ /^[\d\s*<]+$/;
    return undef;
}
my $quota = slurp('authd/mail_quota.h');
my %units = (s => 1, m => 60, h => 3600, d => 86400, '' => 1);
my %sizes = ('' => 1, B => 1, K => 1 << 10, KiB => 1 << 10, M => 1 << 20, MiB => 1 << 20, G => 1 << 30, GiB => 1 << 30);
for my $key (sort keys %field) {
    my ($table, $name) = $key =~ /^(.*)\.(\w+)$/;
    my $row = $documented_keys_rows{$table}{$name} or next;  # missing rows fail above
    my $doc_default = $row->[1] =~ /^none/ ? undef : ($row->[1] =~ /`([^`]*)`/)[0];
    my $f = $field{$key};
    my $code;
    if ($f =~ /^provider\.(\w+)$/) { $code = initial($provider_h, $1) }
    elsif ($f =~ /^mail_limits\.(\w+)$/) {
        my ($n, $us) = $quota =~ /\b\Q$1\E\{(\d+), ([\dLL *]+)\}/ or die "no default for $f";
        $us =~ s/LL//g;
        $code = [$n, eval($us) / 1000000];
    } else { $code = initial($config_struct, $f) }
    $code = undef if defined $code && $code eq '' && ($f =~ /^provider\./ || $required{$key});  # required: none
    if (ref $code) {  # a rate
        my ($n, $num, $unit) = ($doc_default // '') =~ m{^(\d+)/(\d*)([smhd])$};
        is(defined $n ? "$n/" . (($num || 1) * $units{$unit}) : $doc_default, "$code->[0]/$code->[1]", "[$table] $name: default");
    } elsif (($row->[0] // '') eq 'duration' && defined $doc_default) {
        my ($n, $unit) = $doc_default =~ /^(\d+)([smhd])$/;
        is(defined $n ? $n * $units{$unit} : $doc_default, $code, "[$table] $name: default ($doc_default)");
    } elsif (($row->[0] // '') eq 'size' && defined $doc_default) {
        my ($n, $unit) = $doc_default =~ /^(\d+)(\w*)$/;
        is(defined $n ? $n * $sizes{$unit} : $doc_default, $code, "[$table] $name: default ($doc_default)");
    } else {
        $doc_default = '' if defined $doc_default && $doc_default eq '""';
        is($doc_default, $code, "[$table] $name: default");
    }
}
is($documented_keys_rows{tokens}{algorithm}[1], "`$algorithm`", '[tokens] algorithm: default');
is($documented_keys_rows{store}{backend}[1], "`$backend`", '[store] backend: default');
is($documented_keys_rows{tokens}{mode}[1], "`$mode`", '[tokens] mode: default');

done_testing();
