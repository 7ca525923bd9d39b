// docs/module.md against the code: every directive of the module's table
// (directive_list.h, the list nginx's ngx_command_t array is made of) has
// a row in "## Directives" with its levels and, where the code names one,
// its default; every $spa_auth_result of the status table (core/status.h)
// has a row in "## Errors" with its HTTP status, challenge and error code.
// A directive or a status added without its documentation fails here; so
// does a glue file that spa_auth.h's index does not list.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/module_defaults.h"
#include "core/status.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;
namespace defaults = spa::core::module_defaults;

struct Directive {
  std::string_view name;
  std::string_view levels;  // the table's words, as written: "kAnyLevel | NGX_CONF_TAKE1"
};

// The module's own list; the macro keeps the name and the levels as text
// and drops the handler, so nothing of nginx is needed here.
#define SPA_DIRECTIVE(name, type, handler, offset) Directive{name, #type},
const Directive kDirectives[] = {
#include "ngx_http_spa_auth_module/directive_list.h"
};
#undef SPA_DIRECTIVE

const char* kDoc = "../../docs/module.md";
const char* kGlue = "../../ngx_http_spa_auth_module";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  ck_assert_msg(in.good(), "cannot read %s", path.c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string read_doc() { return read_file(kDoc); }

// The lines from "## TITLE" to the next "## ".
std::vector<std::string> section(const std::string& doc, const std::string& title) {
  std::vector<std::string> lines;
  std::istringstream in(doc);
  std::string line;
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      if (inside) break;
      inside = line == "## " + title;
      continue;
    }
    if (inside) lines.push_back(line);
  }
  ck_assert_msg(!lines.empty(), "%s has no section \"## %s\"", kDoc, title.c_str());
  return lines;
}

// A table row's cells, split at '|' that is not escaped ("\|").
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '|' && row[i - 1] != '\\') {
      out.push_back(cell);
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

// The cells of the row whose first cell names `name` in backquotes.
std::vector<std::string> row_naming(const std::vector<std::string>& lines, std::string_view name) {
  std::string quoted = "`" + std::string(name) + "`";
  for (const auto& line : lines) {
    if (line.rfind("|", 0) != 0) continue;
    std::vector<std::string> c = cells(line);
    if (!c.empty() && c[0].find(quoted) != std::string::npos) return c;
  }
  return {};
}

bool has(const std::string& cell, std::string_view text) { return cell.find(text) != std::string::npos; }

std::string levels_of(std::string_view table_words) {
  if (table_words.find("kAnyLevel") != std::string_view::npos) return "http, server, location";
  if (table_words.find("NGX_HTTP_MAIN_CONF") != std::string_view::npos) return "http";
  return "location";
}

START_TEST(every_directive_documented) {
  const std::string doc = read_doc();
  const std::vector<std::string> lines = section(doc, "Directives");
  ck_assert_uint_gt(std::size(kDirectives), 20);
  for (const Directive& d : kDirectives) {
    std::string name(d.name);
    std::vector<std::string> row = row_naming(lines, d.name);
    ck_assert_msg(row.size() >= 4, "directive %s has no row in \"## Directives\" of %s", name.c_str(), kDoc);
    std::string levels = levels_of(d.levels);
    ck_assert_msg(has(row[1], levels), "%s: levels \"%s\" documented as \"%s\"", name.c_str(), levels.c_str(),
                  row[1].c_str());
  }
}
END_TEST

START_TEST(documented_defaults_are_the_code_s) {
  const std::vector<std::string> lines = section(read_doc(), "Directives");
  constexpr size_t kDefault = 2, kArguments = 3;  // the table's columns
  struct Expected {
    std::string_view directive;
    size_t column;
    std::string text;
  };
  const Expected expected[] = {
      {"spa_auth_leeway", kDefault, "`" + std::to_string(defaults::kLeewaySeconds) + "s`"},
      {"spa_auth_leeway", kArguments, "`" + std::to_string(defaults::kMaxLeewaySeconds) + "s`"},
      {"spa_auth_token", kDefault, "`header cookie=" + std::string(defaults::kAccessCookie) + "`"},
      {"spa_auth_cache_size", kDefault, "`" + std::to_string(defaults::kCacheEntries) + "`"},
      {"spa_auth_cache_size", kArguments, std::to_string(defaults::kMaxCacheEntries)},
      {"spa_auth_identity_prefix", kDefault, "`" + std::string(defaults::kIdentityPrefix) + "`"},
      {"spa_auth_websocket_recheck", kDefault, "`" + std::to_string(defaults::kWebSocketRecheckMs / 1000) + "s`"},
      {"spa_auth_limit_zone", kArguments, std::to_string(defaults::kMinLimitZonePages) + " pages"},
  };
  for (const auto& e : expected) {
    std::string name(e.directive);
    std::vector<std::string> row = row_naming(lines, e.directive);
    std::string cell = row.size() > e.column ? row[e.column] : "";
    ck_assert_msg(has(cell, e.text), "%s: %s not in \"%s\"", name.c_str(), e.text.c_str(), cell.c_str());
  }
}
END_TEST

START_TEST(every_result_documented) {
  const std::vector<std::string> lines = section(read_doc(), "Errors");
  for (Status s : test::all_statuses()) {
    StatusInfo info = status_info(s);
    std::string name(info.name), code = "`" + std::string(info.error_code) + "`";
    std::vector<std::string> row = row_naming(lines, info.name);
    ck_assert_msg(row.size() >= 4, "$spa_auth_result %s has no row in \"## Errors\" of %s", name.c_str(), kDoc);
    if (s == Status::kOk) continue;  // the request goes on: no status, challenge or code
    std::string http = std::to_string(info.http);
    ck_assert_msg(has(row[1], http), "%s: status %s documented as \"%s\"", name.c_str(), http.c_str(), row[1].c_str());
    ck_assert_msg(has(row[3], code), "%s: error.code %s documented as \"%s\"", name.c_str(), code.c_str(),
                  row[3].c_str());
    const std::string& challenge = row[2];
    switch (info.challenge) {
      case Challenge::kNone:
        ck_assert_msg(has(challenge, "none"), "%s: no challenge, documented as \"%s\"", name.c_str(),
                      challenge.c_str());
        break;
      case Challenge::kRealm:
        ck_assert_msg(has(challenge, "realm only"), "%s: realm only, documented as \"%s\"", name.c_str(),
                      challenge.c_str());
        break;
      case Challenge::kStepUp:
        ck_assert_msg(has(challenge, "`max_age=N`"), "%s: max_age not documented", name.c_str());
        [[fallthrough]];
      case Challenge::kError:
        ck_assert_msg(has(challenge, code), "%s: challenge error %s documented as \"%s\"", name.c_str(), code.c_str(),
                      challenge.c_str());
        break;
    }
  }
}
END_TEST

START_TEST(every_glue_file_in_the_index) {
  const std::string index = read_file(std::string(kGlue) + "/spa_auth.h");
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kGlue)) {
    std::string name = entry.path().filename().string();
    ck_assert_msg(index.find("//   " + name + " ") != std::string::npos, "spa_auth.h's index does not list %s",
                  name.c_str());
    ++files;
  }
  ck_assert_uint_gt(files, 10);
}
END_TEST

}  // namespace

Suite* module_docs_suite() {
  Suite* s = suite_create("module_docs");
  TCase* t = tcase_create("docs");
  tcase_add_test(t, every_directive_documented);
  tcase_add_test(t, documented_defaults_are_the_code_s);
  tcase_add_test(t, every_result_documented);
  tcase_add_test(t, every_glue_file_in_the_index);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(module_docs_suite);
