// JwksFile reload rules against a fake file system and a fake clock.
#include <map>
#include <memory>
#include <vector>

#include "core/jwks_file.h"
#include "tests/unit/helpers.h"

using namespace spa::core;
using json = nlohmann::json;

namespace {

class FakeFs final : public FileSystem {
 public:
  struct File {
    std::string text;
    FileStamp stamp;
  };
  std::map<std::string, File> files;
  int stats = 0, reads = 0;
  int64_t clock_ns = 0;  // every write is a new mtime, as on a real disk

  void write(const std::string& path, const std::string& text) {
    auto& f = files[path];
    f.text = text;
    f.stamp.mtime_ns = ++clock_ns;
    f.stamp.size = text.size();
  }
  bool stat(const std::string& path, FileStamp& out, std::string& err) override {
    ++stats;
    auto it = files.find(path);
    if (it == files.end()) {
      err = "No such file or directory";
      return false;
    }
    out = it->second.stamp;
    return true;
  }
  bool read(const std::string& path, std::string& out, size_t max, std::string& err) override {
    ++reads;
    auto it = files.find(path);
    if (it == files.end() || it->second.text.size() > max) {
      err = "cannot read";
      return false;
    }
    out = it->second.text;
    return true;
  }
};

std::string jwks_with(const std::vector<std::string>& kids) {
  json keys = json::array();
  for (const auto& kid : kids) {
    json k = jwk_public_json(*test::make_key(KeyKind::kEd25519));
    k["kid"] = kid;
    keys.push_back(k);
  }
  return json{{"keys", keys}}.dump();
}

// A JwksFile over `fs` that has loaded /k.json successfully.
std::unique_ptr<JwksFile> loaded(FakeFs& fs, int64_t interval_ms = 1000) {
  auto f = std::make_unique<JwksFile>("/k.json", fs, interval_ms);
  std::string err;
  std::vector<std::string> warnings;
  ck_assert_msg(f->load(err, warnings), "load: %s", err.c_str());
  return f;
}

}  // namespace

START_TEST(missing_or_broken_file_fails_the_first_load) {
  FakeFs fs;
  JwksFile f("/k.json", fs);
  std::string err;
  std::vector<std::string> warnings;
  ck_assert(!f.load(err, warnings));
  fs.write("/k.json", "{\"keys\":");
  ck_assert(!f.load(err, warnings));
  fs.write("/k.json", jwks_with({"a"}));
  ck_assert(f.load(err, warnings));
  ck_assert_uint_eq(f.keys()->size(), 1);
}
END_TEST

START_TEST(stats_at_most_once_per_interval) {
  FakeFs fs;
  fs.write("/k.json", jwks_with({"a"}));
  auto file = loaded(fs);
  JwksFile& f = *file;
  int before = fs.stats;
  for (int64_t t = 0; t < 1000; t += 10) f.refresh(10'000 + t);
  ck_assert_int_eq(fs.stats - before, 1);
  f.refresh(11'000);
  ck_assert_int_eq(fs.stats - before, 2);
}
END_TEST

START_TEST(a_changed_file_is_reloaded) {
  FakeFs fs;
  fs.write("/k.json", jwks_with({"a"}));
  auto file = loaded(fs);
  JwksFile& f = *file;
  ck_assert(f.refresh(1000).outcome == JwksFile::Outcome::kUnchanged);
  fs.write("/k.json", jwks_with({"a", "b"}));
  ck_assert(f.refresh(2000).outcome == JwksFile::Outcome::kReloaded);
  ck_assert_uint_eq(f.keys()->size(), 2);
  ck_assert_uint_eq(f.reloads(), 1);
}
END_TEST

START_TEST(a_broken_new_file_keeps_the_old_keys_and_is_reported_once) {
  FakeFs fs;
  fs.write("/k.json", jwks_with({"a"}));
  auto file = loaded(fs);
  JwksFile& f = *file;
  auto old = f.keys();
  fs.write("/k.json", "{\"keys\":[]}");
  auto r = f.refresh(1000);
  ck_assert(r.outcome == JwksFile::Outcome::kFailed);
  ck_assert(!r.error.empty());
  ck_assert(f.keys() == old);
  ck_assert(f.refresh(2000).outcome == JwksFile::Outcome::kUnchanged);  // same broken version: quiet
  fs.files.erase("/k.json");
  ck_assert(f.refresh(3000).outcome == JwksFile::Outcome::kFailed);     // gone: said once
  ck_assert(f.refresh(4000).outcome == JwksFile::Outcome::kUnchanged);
  ck_assert(f.keys() == old);
  fs.write("/k.json", jwks_with({"c"}));
  ck_assert(f.refresh(5000).outcome == JwksFile::Outcome::kReloaded);
  ck_assert(f.keys()->resolve(std::string_view("c"), Alg::kEdDSA) != nullptr);
}
END_TEST

// Moved away and back (the same file, the same stamp): nothing to reload,
// and the failure is over, so a second disappearance is reported again.
START_TEST(the_loaded_file_back_ends_the_failure) {
  FakeFs fs;
  fs.write("/k.json", jwks_with({"a"}));
  auto file = loaded(fs);
  JwksFile& f = *file;
  auto old = f.keys();
  auto away = fs.files.extract("/k.json");
  ck_assert(f.refresh(1000).outcome == JwksFile::Outcome::kFailed);
  ck_assert(f.refresh(2000).outcome == JwksFile::Outcome::kUnchanged);
  fs.files.insert(std::move(away));
  ck_assert(f.refresh(3000).outcome == JwksFile::Outcome::kUnchanged);  // back: no reload
  ck_assert(f.keys() == old);
  away = fs.files.extract("/k.json");
  ck_assert(f.refresh(4000).outcome == JwksFile::Outcome::kFailed);     // gone again: said again
  ck_assert(f.refresh(5000).outcome == JwksFile::Outcome::kUnchanged);
  ck_assert_uint_eq(f.failures(), 2);
  ck_assert_uint_eq(f.reloads(), 0);
}
END_TEST

START_TEST(clock_going_backwards_still_rechecks) {
  FakeFs fs;
  fs.write("/k.json", jwks_with({"a"}));
  auto file = loaded(fs);
  JwksFile& f = *file;
  f.refresh(100'000);
  int before = fs.stats;
  f.refresh(50'000);
  ck_assert_int_eq(fs.stats - before, 1);
}
END_TEST

Suite* jwks_file_suite() {
  Suite* s = suite_create("jwks_file");
  TCase* tc = tcase_create("core");
  tcase_add_test(tc, missing_or_broken_file_fails_the_first_load);
  tcase_add_test(tc, stats_at_most_once_per_interval);
  tcase_add_test(tc, a_changed_file_is_reloaded);
  tcase_add_test(tc, a_broken_new_file_keeps_the_old_keys_and_is_reported_once);
  tcase_add_test(tc, the_loaded_file_back_ends_the_failure);
  tcase_add_test(tc, clock_going_backwards_still_rechecks);
  suite_add_tcase(s, tc);
  return s;
}
REGISTER_SUITE(jwks_file_suite);
