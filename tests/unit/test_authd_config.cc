// spa-authd configuration: defaults, every key's checks, and errors that
// name the key and its line.
#include <sys/stat.h>

#include "authd/config.h"
#include "authd/files.h"
#include "authd/mailer.h"
#include "core/duration.h"
#include "core/envelope.h"
#include "tests/unit/helpers.h"
#include "tests/unit/store_tests.h"

using namespace spa::authd;

namespace {

std::vector<ConfigError> errors_of(const std::string& text) {
  Config c;
  std::vector<ConfigError> errors;
  parse_config(text, "t.toml", c, errors);
  return errors;
}

bool has_error(const std::vector<ConfigError>& errors, const std::string& key, int64_t line) {
  for (const auto& e : errors)
    if (e.key == key && e.line == line) return true;
  return false;
}

const char* kMinimal = "[tokens]\nissuer = \"https://app.example.com\"\n";

}  // namespace

START_TEST(minimal_config_gets_the_documented_defaults) {
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config(kMinimal, "t.toml", c, errors));
  ck_assert(c.socket_path == "/run/spa-authd/authd.sock");
  ck_assert(c.algorithm == spa::core::Alg::kEdDSA);
  ck_assert_int_eq(c.access_ttl, 900);
  ck_assert_int_eq(c.refresh_ttl, 7 * 86400);
  ck_assert_int_eq(c.refresh_grace, 10);
  ck_assert(c.mode == TokenMode::kCookie);
  ck_assert_uint_eq(c.argon2_memory_kib, 19456);
  ck_assert_uint_eq(c.argon2_iterations, 2);
  ck_assert_uint_eq(c.password_queue, 32);
  ck_assert_int_eq(c.password_queue_timeout, 2);
  ck_assert_uint_eq(c.oauth_calls_per_provider, 16);
  ck_assert_int_eq(c.oauth_call_timeout, 5);
}
END_TEST

START_TEST(concurrency_bounds) {
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config(std::string(kMinimal) +
                             "[password]\nqueue = 0\nqueue_timeout = \"1m\"\n"
                             "[oauth]\ncalls_per_provider = 256\ncall_timeout = \"1s\"\n",
                         "t.toml", c, errors));
  ck_assert_uint_eq(c.password_queue, 0);
  ck_assert_int_eq(c.password_queue_timeout, 60);
  ck_assert_uint_eq(c.oauth_calls_per_provider, 256);
  ck_assert_int_eq(c.oauth_call_timeout, 1);
  // At the bounds above, and one past each.
  auto e = errors_of(std::string(kMinimal) +
                     "[password]\n"                  // 3
                     "queue = 1025\n"                // 4
                     "queue_timeout = \"61s\"\n"     // 5
                     "[oauth]\n"                     // 6
                     "calls_per_provider = 0\n"      // 7
                     "call_timeout = \"0s\"\n");     // 8
  ck_assert(has_error(e, "password.queue", 4));
  ck_assert(has_error(e, "password.queue_timeout", 5));
  ck_assert(has_error(e, "oauth.calls_per_provider", 7));
  ck_assert(has_error(e, "oauth.call_timeout", 8));
  ck_assert_uint_eq(e.size(), 4);
  e = errors_of(std::string(kMinimal) + "[password]\nqueue = \"32\"\n[oauth]\ncall_timeout = 5\ncalls_per_provider = -1\n");
  ck_assert(has_error(e, "password.queue", 4));
  ck_assert(has_error(e, "oauth.call_timeout", 6));
  ck_assert(has_error(e, "oauth.calls_per_provider", 7));
  for (const auto& err : e)
    if (err.key == "oauth.call_timeout")
      ck_assert(format_error("t.toml", err) ==
                "t.toml:6: oauth.call_timeout: must be a duration like \"30s\", \"15m\", \"1h\" or \"7d\"");
}
END_TEST

START_TEST(the_shipped_example_is_valid) {
  Config c;
  std::vector<ConfigError> errors;
  ck_assert_msg(load_config("../../conf/authd.toml", c, errors), "%s",
                errors.empty() ? "" : format_error("conf/authd.toml", errors[0]).c_str());
  ck_assert(c.jwks_file == "/var/lib/spa-authd/jwks.json");
  ck_assert_uint_eq(c.allowed_origins.size(), 1);
}
END_TEST

START_TEST(each_bad_key_is_named_with_its_line) {
  auto e = errors_of(
      "[server]\n"                              // 1
      "socket = \"relative.sock\"\n"            // 2
      "[tokens]\n"                              // 3
      "issuer = \"https://x\"\n"                // 4
      "access_ttl = \"15 minutes\"\n"           // 5
      "algoritm = \"EdDSA\"\n"                  // 6
      "mode = \"cookies\"\n"                    // 7
      "algorithm = \"HS256\"\n"                 // 8
      "[password]\n"                            // 9
      "argon2_memory_kib = 1024\n"              // 10
      "argon2_iterations = \"2\"\n"             // 11
      "[security]\n"                            // 12
      "allowed_origins = [\"https://a.example/path\"]\n"  // 13
      "[logging]\n"                             // 14
      "level = \"debug\"\n");                   // 15
  ck_assert(has_error(e, "server.socket", 2));
  ck_assert(has_error(e, "tokens.access_ttl", 5));
  ck_assert(has_error(e, "tokens.algoritm", 6));
  ck_assert(has_error(e, "tokens.mode", 7));
  ck_assert(has_error(e, "tokens.algorithm", 8));
  ck_assert(has_error(e, "password.argon2_memory_kib", 10));
  ck_assert(has_error(e, "password.argon2_iterations", 11));
  ck_assert(has_error(e, "security.allowed_origins", 13));
  ck_assert(has_error(e, "logging", 14));
  ck_assert_uint_eq(e.size(), 9);
  for (const auto& err : e)
    if (err.key == "server.socket")
      ck_assert(format_error("t.toml", err) == "t.toml:2: server.socket: must be an absolute path");
}
END_TEST

START_TEST(syntax_errors_have_a_line) {
  auto e = errors_of("[tokens]\nissuer = \"x\"\naccess_ttl = 15m\n");
  ck_assert_uint_eq(e.size(), 1);
  ck_assert_int_eq(e[0].line, 3);
}
END_TEST

// Found by tests/fuzz/fuzz_config.cc: toml++ 3.3.0 asserted (the process
// aborted, `--check-config` included) on a NUL after "[" and on a table
// header such as "[)". Each is now an error with its line.
START_TEST(hostile_files_are_errors_not_aborts) {
  auto nul = errors_of(std::string(kMinimal) + std::string("[\0\n", 3));
  ck_assert_uint_eq(nul.size(), 1);
  ck_assert_int_eq(nul[0].line, 3);
  ck_assert(nul[0].message.find("U+0000") != std::string::npos);
  for (const char* header : {"[)\n", "[ )\n", "[[=]]\n", "[.]\n"}) {
    auto e = errors_of(std::string(kMinimal) + "\n" + header);
    ck_assert_msg(e.size() == 1 && e[0].line == 4, "%s: %zu errors", header, e.size());
  }
  // Control characters TOML does not allow, anywhere (a bare CR, escape, DEL).
  for (const char* bad : {"\r", "\x1b", "\x7f"}) {
    auto e = errors_of(std::string(kMinimal) + "# a" + bad + "comment\n");
    ck_assert_msg(e.size() == 1 && e[0].line == 3, "control 0x%02x: %zu errors", bad[0], e.size());
  }
  // Past ASCII, toml++ reaches __builtin_unreachable() where it looks for
  // whitespace ("a = 1 \u00e9", a multi-line string's trimmed line end):
  // refused everywhere, with the way to write it instead.
  for (const char* text : {"a = 1 \xc3\xa9\n", "# caf\xc3\xa9\n", "x = \"\xef\xb3\xbf\"\n", "\xff\n"}) {
    auto e = errors_of(std::string(kMinimal) + text);
    ck_assert_msg(e.size() == 1 && e[0].line == 3 && e[0].message.find("\\uXXXX") != std::string::npos,
                  "%s: %zu errors", text, e.size());
  }
  {
    Config escaped;
    std::vector<ConfigError> none;
    ck_assert(parse_config(std::string(kMinimal) + "[mfa]\nissuer_name = \"Caf\\u00e9\"\n", "t.toml", escaped, none));
    ck_assert_str_eq(escaped.mfa_issuer_name.c_str(), "Caf\xc3\xa9");
  }
  // CRLF line ends and tabs stay fine.
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config("[tokens]\r\nissuer =\t\"https://app.example.com\"\r\n", "t.toml", c, errors));
}
END_TEST

START_TEST(issuer_is_required_and_refresh_outlives_access) {
  ck_assert(has_error(errors_of("[tokens]\naudience = \"spa\"\n"), "tokens.issuer", 0));
  ck_assert(has_error(errors_of("[tokens]\nissuer = \"x\"\naccess_ttl = \"1h\"\nrefresh_ttl = \"30m\"\n"),
                      "tokens.refresh_ttl", 4));
}
END_TEST

// [smtp] url beyond this machine requires STARTTLS (CURLUSESSL_ALL): a
// reset link or a password in the URL never crosses a network in clear.
START_TEST(smtp_beyond_this_machine_requires_starttls) {
  for (const char* local : {"smtp://127.0.0.1:25", "smtp://127.1.2.3", "smtp://localhost:2525", "smtp://[::1]:25",
                            "smtps://relay.example.com:465", "SMTPS://relay.example.com:465"})
    ck_assert_msg(!spa::authd::smtp_needs_starttls(local), "%s", local);
  for (const char* remote : {"smtp://relay.example.com:587", "smtp://user:pass@10.0.0.5:25", "smtp://127.evil.example:25",
                             "smtp://[2001:db8::1]:25", "smtp://[::ffff:10.0.0.5]:25", "SMTP://relay.example.com:587",
                             "smtp.example.com:25", "not a url"})
    ck_assert_msg(spa::authd::smtp_needs_starttls(remote), "%s", remote);
}
END_TEST

// Secrets live in files only spa-authd can read: authd.toml is readable by
// its group, and nginx's user is in that group.
START_TEST(secrets_stay_out_of_the_config_and_in_files_only_spa_authd_reads) {
  for (const char* with : {"smtp://user:pass@relay.example.com:587", "SMTPS://u:p@relay.example.com", "u:p@smtp.example.com",
                           "smtp://:pass@127.0.0.1"})
    ck_assert_msg(spa::authd::smtp_url_has_password(with), "%s", with);
  for (const char* without : {"smtp://relay.example.com:587", "smtp://user@relay.example.com", "", "not a url"})
    ck_assert_msg(!spa::authd::smtp_url_has_password(without), "%s", without);
  auto e = errors_of(std::string(kMinimal) + "[smtp]\nurl = \"smtp://mailer:hunter2@relay.example.com:587\"\n");
  ck_assert(has_error(e, "smtp.url", 4));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[smtp]\npassword_file = \"/etc/p\"\n"), "smtp.password_file", 4));
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config(std::string(kMinimal) + "[smtp]\nurl = \"smtp://relay.example.com:587\"\nusername = \"mailer\"\n"
                                                 "password_file = \"/etc/spa-authd/smtp.password\"\n",
                         "t.toml", c, errors));
  ck_assert_str_eq(c.smtp_username.c_str(), "mailer");
  ck_assert_str_eq(c.smtp_password_file.c_str(), "/etc/spa-authd/smtp.password");
  // The file: spa-authd's alone, one trailing line break dropped.
  test::StoreDir d;
  std::string file = d.path + "/secret", out, err;
  auto write = [&](const std::string& text, mode_t mode) {
    std::string ignored;
    ck_assert(spa::authd::write_file_atomic(file, text, mode, ignored));
    ck_assert(::chmod(file.c_str(), mode) == 0);
  };
  write("hunter2\n", 0600);
  ck_assert_msg(spa::authd::read_secret_file(file, out, err), "%s", err.c_str());
  ck_assert_str_eq(out.c_str(), "hunter2");
  write("hunter2\r\n", 0400);
  ck_assert(spa::authd::read_secret_file(file, out, err) && out == "hunter2");
  for (mode_t loose : {0640, 0604, 0440}) {
    write("hunter2\n", loose);
    ck_assert(!spa::authd::read_secret_file(file, out, err));
    ck_assert_msg(err.find("may be read by its group or others") != std::string::npos, "%s", err.c_str());
  }
  write("\n", 0600);
  ck_assert(!spa::authd::read_secret_file(file, out, err) && err.find("is empty") != std::string::npos);
  write(std::string(5000, 'x'), 0600);
  ck_assert(!spa::authd::read_secret_file(file, out, err) && err.find("4 KiB") != std::string::npos);
  ck_assert(!spa::authd::read_secret_file(d.path, out, err) && err.find("not a regular file") != std::string::npos);
  ck_assert(!spa::authd::read_secret_file(d.path + "/none", out, err));
  // Owned by another user (who could change it), or in a directory others may write.
  write("hunter2\n", 0600);
  ck_assert(::chown(file.c_str(), 65534, 65534) == 0);
  ck_assert(!spa::authd::read_secret_file(file, out, err));
  ck_assert_msg(err.find("belongs to uid 65534") != std::string::npos, "%s", err.c_str());
  ck_assert(::chown(file.c_str(), 0, 0) == 0 && ::chmod(d.path.c_str(), 0770) == 0);
  ck_assert(!spa::authd::read_secret_file(file, out, err));
  ck_assert_msg(err.find("may be written by its group or others") != std::string::npos, "%s", err.c_str());
  ck_assert(::chmod(d.path.c_str(), 0700) == 0);
  ck_assert(spa::authd::read_secret_file(file, out, err));
  // Through a symlink: the directories checked are the target's; one that
  // another user owns could point the name anywhere.
  ck_assert(::mkdir((d.path + "/theirs").c_str(), 0755) == 0 && ::chown((d.path + "/theirs").c_str(), 65534, 65534) == 0);
  ck_assert(::symlink(file.c_str(), (d.path + "/theirs/link").c_str()) == 0);
  ck_assert(!spa::authd::read_secret_file(d.path + "/theirs/link", out, err));
  ck_assert_msg(err.find("belongs to uid 65534") != std::string::npos, "%s", err.c_str());
  ck_assert(::mkdir((d.path + "/open").c_str(), 0777) == 0 && ::chmod((d.path + "/open").c_str(), 0777) == 0);
  ck_assert(spa::authd::write_file_atomic(d.path + "/open/s", "x\n", 0600, err));
  ck_assert(::symlink((d.path + "/open/s").c_str(), (d.path + "/to-open").c_str()) == 0);
  ck_assert(!spa::authd::read_secret_file(d.path + "/to-open", out, err));
  ck_assert_msg(err.find("/open may be written") != std::string::npos, "%s", err.c_str());
}
END_TEST

START_TEST(oauth_providers) {
  Config c;
  std::vector<ConfigError> errors;
  std::string text = std::string(kMinimal) +
                     "[oauth]\nlogin_page = \"/signin\"\n"
                     "[oauth.google]\nclient_id = \"id\"\nclient_secret_file = \"/etc/g\"\n"
                     "redirect_uri = \"https://app.example.com/api/v1/oauth/google/callback\"\n"
                     "[oauth.corp]\nclient_id = \"id2\"\nclient_secret_file = \"/etc/c\"\n"
                     "redirect_uri = \"https://app.example.com/api/v1/oauth/corp/callback\"\n"
                     "discovery = \"http://127.0.0.1:9000/.well-known/openid-configuration\"\nscopes = [\"openid\"]\n"
                     "allowed_redirects = [\"https://admin.example.com/\"]\n";
  ck_assert(parse_config(text, "t.toml", c, errors));
  ck_assert_uint_eq(c.oauth.size(), 2);
  ck_assert(c.oauth_login_page == "/signin");
  ck_assert(c.oauth[0].name == "corp" && c.oauth[0].discovery == "http://127.0.0.1:9000/.well-known/openid-configuration");

  // Each mistake names its key and line (the table's line for a missing key).
  auto e = errors_of(std::string(kMinimal) + "[oauth.corp]\nclient_id = \"id\"\nredirect_uri = \"https://a\"\nsecret = 1\n");
  ck_assert(has_error(e, "oauth.corp.secret", 6));
  ck_assert(has_error(e, "oauth.corp.discovery", 3));
  ck_assert(has_error(e, "oauth.corp.client_secret_file", 3));
  ck_assert(has_error(e, "oauth.corp.redirect_uri", 5));  // not .../api/v1/oauth/corp/callback
  std::string base = std::string(kMinimal) + "[oauth.corp]\nclient_id = \"i\"\nclient_secret_file = \"/s\"\n"
                     "redirect_uri = \"https://a/api/v1/oauth/corp/callback\"\n";
  ck_assert(has_error(errors_of(base + "discovery = \"http://idp.example.com/.well-known/openid-configuration\"\n"),
                      "oauth.corp.discovery", 7));  // plain http off loopback
  ck_assert(has_error(errors_of(base + "discovery = \"https://idp.example.com/\"\n"), "oauth.corp.discovery", 7));
  ck_assert(has_error(errors_of(base + "discovery = \"https://i/.well-known/openid-configuration\"\nscopes = [\"email\"]\n"),
                      "oauth.corp.scopes", 8));
  ck_assert(has_error(errors_of(base + "discovery = \"https://i/.well-known/openid-configuration\"\n"
                                       "allowed_redirects = [\"http://evil.example/\"]\n"),
                      "oauth.corp.allowed_redirects", 8));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[oauth.Bad]\nclient_id = \"i\"\n"), "oauth.Bad", 3));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[oauth]\nlogin_page = \"//evil.example\"\n"),
                      "oauth.login_page", 4));
}
END_TEST

START_TEST(durations) {
  using spa::core::parse_duration;
  ck_assert(parse_duration("10s") == 10);
  ck_assert(parse_duration("15m") == 900);
  ck_assert(parse_duration("1h") == 3600);
  ck_assert(parse_duration("7d") == 7 * 86400);
  for (const char* bad : {"", "s", "10", "-5s", "1.5h", "10 s", "10S", "99999999999d", "1w"})
    ck_assert_msg(!parse_duration(bad), "accepted %s", bad);
}
END_TEST

START_TEST(envelopes_keep_the_documented_shape) {
  std::string ok = spa::core::success_envelope({{"a", 1}}, "rid", 0);
  ck_assert(ok == R"({"success":true,"data":{"a":1},"meta":{"timestamp":"1970-01-01T00:00:00Z","version":"v1","requestId":"rid"}})");
  std::string err = spa::core::error_envelope("invalid_request", "bad \"input\"", "", 86400);
  ck_assert(err == R"({"success":false,"error":{"code":"invalid_request","message":"bad \"input\""},"meta":{"timestamp":"1970-01-02T00:00:00Z","version":"v1","requestId":""}})");
}
END_TEST

START_TEST(store_sizes_and_sweeping_settings) {
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config(kMinimal, "t.toml", c, errors));
  ck_assert_uint_eq(c.store_max_size, uint64_t{1} << 30);
  ck_assert_int_eq(c.audit_retention, 90 * 86400);
  ck_assert_int_eq(c.sweep_interval, 60);
  std::string text = std::string(kMinimal) + "[store]\nmax_size = \"64MiB\"\naudit_retention = \"30d\"\nsweep_interval = \"10s\"\n";
  ck_assert(parse_config(text, "t.toml", c, errors));
  ck_assert_uint_eq(c.store_max_size, uint64_t{64} << 20);
  ck_assert_int_eq(c.audit_retention, 30 * 86400);
  ck_assert_int_eq(c.sweep_interval, 10);
  // Sizes: the suffixes, and nothing else.
  ck_assert(parse_size("1GiB") == (uint64_t{1} << 30) && parse_size("512K") == (uint64_t{512} << 10));
  ck_assert(parse_size("1048576") == (uint64_t{1} << 20) && parse_size("2TiB") == (uint64_t{2} << 40));
  for (const char* bad : {"", "MiB", "1 GiB", "1gib", "1.5GiB", "-1M", "1GiBx", "99999999999999999999", "2000000T"})
    ck_assert_msg(!parse_size(bad), "%s", bad);
  // The private store: inside path by default; never path itself, nor above it
  // (0700: nginx's workers could not reach the mirror).
  ck_assert(parse_config(kMinimal, "t.toml", c, errors));
  ck_assert_str_eq(c.store_private_path.c_str(), "/var/lib/spa-authd/private");
  ck_assert(parse_config(std::string(kMinimal) + "[store]\npath = \"/srv/m/\"\nprivate_path = \"/srv/p\"\n", "t.toml", c, errors));
  ck_assert_str_eq(c.store_private_path.c_str(), "/srv/p");
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\npath = \"/srv/m\"\nprivate_path = \"/srv/m/\"\n"),
                      "store.private_path", 5));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\npath = \"/srv/m/x\"\nprivate_path = \"/srv/m\"\n"),
                      "store.private_path", 5));
  for (const char* same : {"/srv/m/.", "/srv//m", "/srv/m/x/..", "/srv/../srv/m", "/srv/./"})
    ck_assert_msg(has_error(errors_of(std::string(kMinimal) + "[store]\npath = \"/srv/m\"\nprivate_path = \"" + same + "\"\n"),
                            "store.private_path", 5), "%s", same);
  ck_assert(parse_config(std::string(kMinimal) + "[store]\npath = \"/srv/mx\"\nprivate_path = \"/srv/m\"\n", "t.toml", c, errors));
  // Bounds (1 MiB to 1 TiB) and types, each error naming the key and its line.
  for (const char* bad : {"\"1023KiB\"", "\"2TiB\"", "\"big\"", "1073741824"}) {
    auto e = errors_of(std::string(kMinimal) + "[store]\npath = \"/x\"\nmax_size = " + bad + "\n");
    ck_assert_msg(has_error(e, "store.max_size", 5), "%s", bad);
  }
  ck_assert(parse_config(std::string(kMinimal) + "[store]\nmax_size = \"1MiB\"\n", "t.toml", c, errors));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\naudit_retention = \"1h\"\n"), "store.audit_retention", 4));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\nsweep_interval = \"2h\"\n"), "store.sweep_interval", 4));
}
END_TEST

// [store] backend = "postgresql": a connection string that parses and
// holds no password (that is postgresql_password_file's), a staleness
// bound, and nothing half-set.
START_TEST(the_postgresql_backend_settings) {
  Config c;
  std::vector<ConfigError> errors;
  ck_assert(parse_config(kMinimal, "t.toml", c, errors));
  ck_assert(c.store_backend == Config::Backend::kLmdb);
  ck_assert_int_eq(c.store_max_staleness, 30);
  std::string pg = std::string(kMinimal) + "[store]\nbackend = \"postgresql\"\n";
  ck_assert(parse_config(pg + "postgresql = \"host=db.internal dbname=spa sslmode=verify-full\"\n"
                              "postgresql_password_file = \"/etc/spa-authd/db.password\"\nmax_staleness = \"5s\"\n",
                         "t.toml", c, errors));
  ck_assert(c.store_backend == Config::Backend::kPostgresql);
  ck_assert_str_eq(c.store_postgresql.c_str(), "host=db.internal dbname=spa sslmode=verify-full");
  ck_assert_str_eq(c.store_postgresql_password_file.c_str(), "/etc/spa-authd/db.password");
  ck_assert_int_eq(c.store_max_staleness, 5);
  ck_assert(parse_config(pg + "postgresql = \"postgresql://spa@db.internal/spa\"\n", "t.toml", c, errors));
  ck_assert(has_error(errors_of(pg), "store.postgresql", 4));  // required: the line of backend
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db password=hunter2\"\n"), "store.postgresql", 5));
  ck_assert(has_error(errors_of(pg + "postgresql = \"postgresql://spa:hunter2@db/spa\"\n"), "store.postgresql", 5));
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db nonsense\"\n"), "store.postgresql", 5));
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db sslpassword=hunter2\"\n"), "store.postgresql", 5));
  // A URI libpq cannot read is refused without quoting it (its password could be the part quoted).
  for (const auto& e : errors_of(pg + "postgresql = \"postgresql://spa:50%off@db/spa\"\n"))
    ck_assert_msg(e.message.find("50%off") == std::string::npos, "%s", e.message.c_str());
  ck_assert(has_error(errors_of(pg + "postgresql = \"postgresql://spa:50%off@db/spa\"\n"), "store.postgresql", 5));
  auto errors_pw = errors_of(pg + "postgresql = \"host=db password=hunter2\"\n");
  for (const auto& e : errors_pw) ck_assert_msg(e.message.find("hunter2") == std::string::npos, "%s", e.message.c_str());
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\nbackend = \"redis\"\n"), "store.backend", 4));
  ck_assert(has_error(errors_of(std::string(kMinimal) + "[store]\npostgresql = \"host=db\"\n"), "store.postgresql", 4));
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db\"\nmax_staleness = \"1s\"\n"), "store.max_staleness", 6));
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db\"\nmax_staleness = \"2h\"\n"), "store.max_staleness", 6));
  ck_assert(has_error(errors_of(pg + "postgresql = \"host=db\"\npostgresql_password_file = \"db.password\"\n"),
                      "store.postgresql_password_file", 6));
}
END_TEST

Suite* authd_config_suite() {
  Suite* s = suite_create("authd_config");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, concurrency_bounds);
  tcase_add_test(tc, store_sizes_and_sweeping_settings);
  tcase_add_test(tc, the_postgresql_backend_settings);
  tcase_add_test(tc, minimal_config_gets_the_documented_defaults);
  tcase_add_test(tc, the_shipped_example_is_valid);
  tcase_add_test(tc, each_bad_key_is_named_with_its_line);
  tcase_add_test(tc, syntax_errors_have_a_line);
  tcase_add_test(tc, hostile_files_are_errors_not_aborts);
  tcase_add_test(tc, issuer_is_required_and_refresh_outlives_access);
  tcase_add_test(tc, oauth_providers);
  tcase_add_test(tc, smtp_beyond_this_machine_requires_starttls);
  tcase_add_test(tc, durations);
  tcase_add_test(tc, secrets_stay_out_of_the_config_and_in_files_only_spa_authd_reads);
  tcase_add_test(tc, envelopes_keep_the_documented_shape);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(authd_config_suite);
