#include "authd/signing_keys.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <nlohmann/json.hpp>
#include <openssl/pem.h>

#include "authd/files.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

// A retired key stays published this long after its last token expired,
// to cover clock skew between hosts (the module's largest leeway).
constexpr int64_t kSkewMargin = 600;

// Holds an exclusive lock on key_dir/.lock: the daemon and `keys rotate`
// never rewrite the schedule at the same time.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

EVP_PKEY* generate(core::Alg alg) {
  switch (alg) {
    case core::Alg::kES256: return EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
    case core::Alg::kRS256: return EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{3072});
    default: return EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  }
}

// A new private key of `alg`, as PEM ("" with err).
std::string new_key_pem(core::Alg alg, std::string& err) {
  core::EvpPkeyPtr pkey(generate(alg));
  if (!pkey) {
    err = "key generation failed";
    return {};
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    err = "cannot encode the new key";
    return {};
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// key_dir's files: one PEM per key and keys.json, the schedule.
class FileVault final : public KeyVault {
 public:
  explicit FileVault(std::string dir) : dir_(std::move(dir)) {}

  bool read(std::vector<Stored>& out, bool& exists, std::string& err) override {
    out.clear();
    std::string path = dir_ + "/keys.json", text;
    struct stat st;
    exists = ::stat(path.c_str(), &st) == 0;
    if (!exists) return true;  // first start
    if (!read_file(path, text, err)) return false;
    json doc;
    if (!core::parse_json_strict(text, doc, err, core::JsonLimits{1 << 20, 4}) || !doc.is_object() ||
        !doc.contains("keys") || !doc["keys"].is_array()) {
      err = path + ": not a key schedule (" + (err.empty() ? "no keys array" : err) + ")";
      return false;
    }
    for (const auto& k : doc["keys"]) {
      Stored s;
      try {
        s.schedule.kid = k.at("kid").get<std::string>();
        auto alg = core::alg_from_name(k.at("alg").get<std::string>());
        if (!alg) throw std::runtime_error("alg");
        s.schedule.alg = *alg;
        s.schedule.active_from = k.at("active_from").get<int64_t>();
        s.schedule.retired_at = k.value("retired_at", int64_t{0});
      } catch (const std::exception&) {
        err = path + ": malformed entry";
        return false;
      }
      if (s.schedule.kid.empty() || s.schedule.kid.find('/') != std::string::npos ||
          !read_file(pem_path(s.schedule.kid), s.pem, err)) {
        if (err.empty()) err = path + ": malformed kid";
        return false;
      }
      out.push_back(std::move(s));
    }
    return true;
  }

  // The file as stat sees it. The mtime alone is not enough: the kernel
  // stamps it from a clock that ticks every few milliseconds, so a schedule
  // rewritten (renamed over) within one tick would look unchanged; the
  // inode and size tell it apart. "" while there is none.
  bool stamp(std::string& out, std::string&) override {
    struct stat st;
    if (::stat((dir_ + "/keys.json").c_str(), &st) != 0) {
      out.clear();
      return true;
    }
    out = std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) + ":" +
          std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
    return true;
  }

  bool update(const Change& fn, std::string& stamp_out, std::string& err) override {
    if (!make_dirs(dir_, 0700, err)) return false;
    DirLock lock(dir_);
    if (!lock.ok()) {
      err = "cannot lock " + dir_;
      return false;
    }
    std::vector<Stored> current;
    bool exists = false;
    if (!read(current, exists, err)) return false;
    err.clear();
    auto next = fn(current, err);
    if (!next) return err.empty() && stamp(stamp_out, err);
    auto held = [](const std::vector<Stored>& set, const std::string& kid) {
      return std::any_of(set.begin(), set.end(), [&](const Stored& s) { return s.schedule.kid == kid; });
    };
    std::vector<std::string> written;
    for (const auto& s : *next) {
      if (held(current, s.schedule.kid)) continue;
      if (!write_file_atomic(pem_path(s.schedule.kid), s.pem, 0600, err)) return undo(written);
      written.push_back(s.schedule.kid);
    }
    json state = {{"version", 1}, {"keys", json::array()}};
    for (const auto& s : *next) {
      json entry = {{"kid", s.schedule.kid},
                    {"alg", std::string(core::alg_name(s.schedule.alg))},
                    {"active_from", s.schedule.active_from}};
      if (s.schedule.retired_at) entry["retired_at"] = s.schedule.retired_at;
      state["keys"].push_back(entry);
    }
    // The schedule not written: a new key never signs, so its private
    // file must not stay behind.
    if (!write_file_atomic(dir_ + "/keys.json", state.dump(2) + "\n", 0600, err)) return undo(written);
    for (const auto& s : current)
      if (!held(*next, s.schedule.kid)) ::unlink(pem_path(s.schedule.kid).c_str());
    return stamp(stamp_out, err);
  }

 private:
  std::string pem_path(const std::string& kid) const { return dir_ + "/" + kid + ".pem"; }
  bool undo(const std::vector<std::string>& written) {
    for (const auto& kid : written) ::unlink(pem_path(kid).c_str());
    return false;
  }
  std::string dir_;
};

}  // namespace

SigningKeys::SigningKeys(Options o) : opt_(std::move(o)), vault_(std::make_unique<FileVault>(opt_.key_dir)) {}
SigningKeys::SigningKeys(Options o, std::unique_ptr<KeyVault> vault)
    : opt_(std::move(o)), vault_(std::move(vault)), shared_(true) {}

namespace {

// An installation moving to a shared vault (PostgreSQL): key_dir's keys,
// when it holds any, are the vault's first content, so that no live token
// loses its key (empty when there are none).
std::vector<KeyVault::Stored> keys_to_import(const std::string& key_dir) {
  std::vector<KeyVault::Stored> found;
  bool exists = false;
  std::string ignored;
  if (key_dir.empty() || !FileVault(key_dir).read(found, exists, ignored)) return {};
  return found;
}

}  // namespace

bool key_dir_kids(const std::string& key_dir, std::vector<std::string>& kids, std::string& err) {
  kids.clear();
  std::string path = key_dir + "/keys.json";
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return true;
    err = path + ": " + std::strerror(errno);
    return false;
  }
  std::vector<KeyVault::Stored> found;
  bool exists = false;
  if (!FileVault(key_dir).read(found, exists, err)) return false;
  for (const auto& s : found) kids.push_back(s.schedule.kid);
  return true;
}

SigningKeys::~SigningKeys() = default;

namespace {

// The stored keys, decoded: each PEM's thumbprint must be its kid.
bool decode(const std::vector<KeyVault::Stored>& stored, std::vector<KeySchedule>& schedule,
            std::vector<core::JwkPtr>& keys, std::string& err) {
  for (const auto& s : stored) {
    core::JwkPtr key = core::jwk_from_private_pem(s.pem, err);
    if (!key || key->kid != s.schedule.kid) {
      err = "key " + s.schedule.kid + ": " + (key ? "thumbprint does not match its name" : err);
      return false;
    }
    schedule.push_back(s.schedule);
    keys.push_back(std::move(key));
  }
  return true;
}

}  // namespace

bool SigningKeys::adopt(const std::vector<KeyVault::Stored>& stored, std::string& err) {
  std::vector<KeySchedule> schedule;
  std::vector<core::JwkPtr> keys;
  if (!decode(stored, schedule, keys, err)) return false;
  schedule_ = std::move(schedule);
  keys_ = std::move(keys);
  return true;
}

bool SigningKeys::change(int64_t now, std::optional<int64_t> rotate_at, std::string& err) {
  std::vector<KeySchedule> schedule;
  std::vector<core::JwkPtr> keys;
  std::string stamp;
  bool ok = vault_->update(
      [&](const std::vector<KeyVault::Stored>& current, std::string& e) -> std::optional<std::vector<KeyVault::Stored>> {
        std::vector<KeyVault::Stored> next = current;
        bool changed = false;
        if (next.empty() && vault_is_shared()) {
          next = keys_to_import(opt_.key_dir);
          changed = !next.empty();
        }
        if (next.empty() || rotate_at) {
          // First start: nothing was signed before, so the key may sign at once.
          int64_t from = next.empty() ? now : *rotate_at;
          KeyVault::Stored k;
          k.pem = new_key_pem(opt_.alg, e);
          if (k.pem.empty()) return std::nullopt;
          core::JwkPtr jwk = core::jwk_from_private_pem(k.pem, e);
          if (!jwk) return std::nullopt;
          k.schedule = {jwk->kid, opt_.alg, from, 0};
          if (!next.empty() && next.back().schedule.retired_at == 0) next.back().schedule.retired_at = from;
          next.push_back(std::move(k));
          changed = true;
        }
        // Drop keys whose last token has expired (never the newest one).
        for (size_t i = 0; i + 1 < next.size();) {
          const KeySchedule& s = next[i].schedule;
          if (s.retired_at != 0 && s.retired_at + opt_.access_ttl + kSkewMargin < now) {
            next.erase(next.begin() + static_cast<long>(i));
            changed = true;
          } else {
            ++i;
          }
        }
        schedule.clear();
        keys.clear();
        if (!decode(next, schedule, keys, e)) return std::nullopt;
        // The JWKS first: a key must be public before the schedule lets it sign.
        json jwks = {{"keys", json::array()}};
        for (size_t i = 0; i < schedule.size(); ++i) {
          json pub = core::jwk_public_json(*keys[i]);
          pub["alg"] = std::string(core::alg_name(schedule[i].alg));
          jwks["keys"].push_back(pub);
        }
        if (!write_file_atomic(opt_.jwks_file, jwks.dump(2) + "\n", 0644, e)) return std::nullopt;
        if (!changed) return std::nullopt;  // (published; nothing to store)
        return next;
      },
      stamp, err);
  if (!ok) return false;
  schedule_ = std::move(schedule);
  keys_ = std::move(keys);
  stamp_ = std::move(stamp);
  return true;
}

bool SigningKeys::open(int64_t now, std::string& err) { return change(now, std::nullopt, err); }

bool SigningKeys::rotate(int64_t now, std::string& err) { return change(now, now + opt_.publish_delay, err); }

bool SigningKeys::reload_if_changed(int64_t now, std::string& err) {
  std::string stamp;
  if (!vault_->stamp(stamp, err)) {
    err += "; signing on with the keys in memory";
    return false;
  }
  if (stamp == stamp_ && !schedule_.empty()) return true;
  // The schedule we run on is gone (key_dir replaced, emptied, unreadable;
  // the table emptied): never a first start, which would make a new key and
  // unpublish the keys that signed every live token. Keep signing with the
  // keys in memory.
  if (stamp.empty() && !schedule_.empty()) {
    err = (shared_ ? std::string("the signing keys in the database") : opt_.key_dir + "/keys.json") +
          " are gone; signing on with the keys in memory";
    return false;
  }
  return open(now, err);
}

core::JwkPtr SigningKeys::signing_key(int64_t now) const {
  for (size_t i = schedule_.size(); i-- > 0;)
    if (schedule_[i].active_from <= now) return keys_[i];
  return keys_.empty() ? nullptr : keys_.front();
}

}  // namespace spa::authd
