// The maps of the code against the code: every file docs/ARCHITECTURE.md
// names exists, and every file of authd/ has a row in docs/authd.md's
// "## Pieces" table. A file renamed, removed or added without its line in
// the map fails here, so the map a newcomer reads first stays true.
#include <filesystem>
#include <fnmatch.h>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/unit/helpers.h"

namespace {

namespace fs = std::filesystem;

const char* kTop = "../..";

std::string read_text(const std::string& path) {
  std::ifstream in(std::string(kTop) + "/" + path);
  ck_assert_msg(in.good(), "cannot read %s", path.c_str());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every `code span` of the text.
std::vector<std::string> code_spans(const std::string& text) {
  std::vector<std::string> out;
  static const std::regex span("`([^`\n]+)`");
  for (auto it = std::sregex_iterator(text.begin(), text.end(), span); it != std::sregex_iterator(); ++it)
    out.push_back((*it)[1].str());
  return out;
}

START_TEST(every_file_the_architecture_names_exists) {
  const std::string doc = read_text("docs/ARCHITECTURE.md");
  // A bare name ("access.cpp") is one of these directories' files.
  const char* dirs[] = {"", "core/", "authd/", "authd/records/", "ngx_http_spa_auth_module/", "tests/unit/", "docs/"};
  static const std::regex file_name(R"([A-Za-z0-9_./-]+\.(cc|h|cpp|md|toml|t|pm))");
  size_t named = 0;
  for (const std::string& s : code_spans(doc)) {
    if (!std::regex_match(s, file_name)) continue;
    bool found = false;
    for (const char* d : dirs) found = found || fs::exists(std::string(kTop) + "/" + d + s);
    ck_assert_msg(found, "docs/ARCHITECTURE.md names %s, which is not in the tree", s.c_str());
    ++named;
  }
  ck_assert_uint_gt(named, 40);  // the request and login paths name their files
}
END_TEST

START_TEST(every_authd_file_has_a_piece) {
  const std::string doc = read_text("docs/authd.md");
  size_t from = doc.find("\n## Pieces\n");
  ck_assert_msg(from != std::string::npos, "docs/authd.md has no \"## Pieces\"");
  size_t to = doc.find("\n## ", from + 1);
  std::istringstream rows(doc.substr(from, to == std::string::npos ? std::string::npos : to - from));
  // The first cell of each row: the files it is about ("authd/store.*", "authd/routes_*.cc", "authd/records/").
  std::vector<std::string> patterns;
  for (std::string row; std::getline(rows, row);) {
    if (row.rfind("| `", 0) != 0) continue;
    for (const std::string& p : code_spans(row.substr(0, row.find('|', 1)))) patterns.push_back(p);
  }
  ck_assert_uint_gt(patterns.size(), 20);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(std::string(kTop) + "/authd")) {
    std::string path = "authd/" + entry.path().filename().string() + (entry.is_directory() ? "/" : "");
    bool listed = false;
    for (const std::string& p : patterns) listed = listed || p == path || fnmatch(p.c_str(), path.c_str(), 0) == 0;
    ck_assert_msg(listed, "docs/authd.md \"## Pieces\" has no row for %s", path.c_str());
    ++files;
  }
  ck_assert_uint_gt(files, 40);
}
END_TEST

}  // namespace

Suite* docs_map_suite() {
  Suite* s = suite_create("docs_map");
  TCase* t = tcase_create("maps");
  tcase_add_test(t, every_file_the_architecture_names_exists);
  tcase_add_test(t, every_authd_file_has_a_piece);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(docs_map_suite);
