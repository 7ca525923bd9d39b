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

}  // namespace

// The file as stat sees it. The mtime alone is not enough: the kernel
// stamps it from a clock that ticks every few milliseconds, so a schedule
// rewritten (renamed over) within one tick would look unchanged; the
// inode and size tell it apart.
SigningKeys::FileStamp SigningKeys::FileStamp::of(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return {};
  return {true, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino), static_cast<int64_t>(st.st_size),
          static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

namespace {

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

}  // namespace

bool SigningKeys::create_key(int64_t active_from, std::string& err) {
  core::EvpPkeyPtr pkey(generate(opt_.alg));
  if (!pkey) {
    err = "key generation failed";
    return false;
  }
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), pkey.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    err = "cannot encode the new key";
    return false;
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(len));
  core::JwkPtr key = core::jwk_from_private_pem(pem, err);
  if (!key) return false;
  if (!write_file_atomic(opt_.key_dir + "/" + key->kid + ".pem", pem, 0600, err)) return false;
  if (!schedule_.empty() && schedule_.back().retired_at == 0) schedule_.back().retired_at = active_from;
  schedule_.push_back({key->kid, opt_.alg, active_from, 0});
  keys_.push_back(std::move(key));
  return true;
}

// All or nothing: a schedule that cannot be read whole leaves the keys in
// memory as they were (a running daemon goes on signing with them).
bool SigningKeys::load(std::string& err) {
  std::vector<KeySchedule> schedule;
  std::vector<core::JwkPtr> keys;
  std::string path = opt_.key_dir + "/keys.json", text;
  FileStamp stamp = FileStamp::of(path);
  if (!stamp.exists) {  // first start
    schedule_.clear();
    keys_.clear();
    state_stamp_ = stamp;
    return true;
  }
  if (!read_file(path, text, err)) return false;
  json doc;
  if (!core::parse_json_strict(text, doc, err, core::JsonLimits{1 << 20, 4}) || !doc.is_object() ||
      !doc.contains("keys") || !doc["keys"].is_array()) {
    err = path + ": not a key schedule (" + (err.empty() ? "no keys array" : err) + ")";
    return false;
  }
  for (const auto& k : doc["keys"]) {
    KeySchedule s;
    try {
      s.kid = k.at("kid").get<std::string>();
      auto alg = core::alg_from_name(k.at("alg").get<std::string>());
      if (!alg) throw std::runtime_error("alg");
      s.alg = *alg;
      s.active_from = k.at("active_from").get<int64_t>();
      s.retired_at = k.value("retired_at", int64_t{0});
    } catch (const std::exception&) {
      err = path + ": malformed entry";
      return false;
    }
    std::string pem;
    if (s.kid.find('/') != std::string::npos || !read_file(opt_.key_dir + "/" + s.kid + ".pem", pem, err))
      return false;
    core::JwkPtr key = core::jwk_from_private_pem(pem, err);
    if (!key || key->kid != s.kid) {
      err = opt_.key_dir + "/" + s.kid + ".pem: " + (key ? "thumbprint does not match its name" : err);
      return false;
    }
    schedule.push_back(s);
    keys.push_back(std::move(key));
  }
  schedule_ = std::move(schedule);
  keys_ = std::move(keys);
  state_stamp_ = stamp;
  return true;
}

bool SigningKeys::save_and_publish(int64_t now, std::string& err) {
  // Drop keys whose last token has expired (never the newest one).
  for (size_t i = 0; i + 1 < schedule_.size();) {
    const auto& s = schedule_[i];
    if (s.retired_at != 0 && s.retired_at + opt_.access_ttl + kSkewMargin < now) {
      ::unlink((opt_.key_dir + "/" + s.kid + ".pem").c_str());
      schedule_.erase(schedule_.begin() + static_cast<long>(i));
      keys_.erase(keys_.begin() + static_cast<long>(i));
    } else {
      ++i;
    }
  }
  json state = {{"version", 1}, {"keys", json::array()}};
  json jwks = {{"keys", json::array()}};
  for (size_t i = 0; i < schedule_.size(); ++i) {
    const auto& s = schedule_[i];
    json entry = {{"kid", s.kid}, {"alg", std::string(core::alg_name(s.alg))}, {"active_from", s.active_from}};
    if (s.retired_at) entry["retired_at"] = s.retired_at;
    state["keys"].push_back(entry);
    json pub = core::jwk_public_json(*keys_[i]);
    pub["alg"] = std::string(core::alg_name(s.alg));
    jwks["keys"].push_back(pub);
  }
  // The JWKS first: a key must be public before the schedule lets it sign.
  if (!write_file_atomic(opt_.jwks_file, jwks.dump(2) + "\n", 0644, err)) return false;
  std::string path = opt_.key_dir + "/keys.json";
  if (!write_file_atomic(path, state.dump(2) + "\n", 0600, err)) return false;
  state_stamp_ = FileStamp::of(path);
  return true;
}

bool SigningKeys::open(int64_t now, std::string& err) {
  if (!make_dirs(opt_.key_dir, 0700, err)) return false;
  DirLock lock(opt_.key_dir);
  if (!lock.ok()) {
    err = "cannot lock " + opt_.key_dir;
    return false;
  }
  if (!load(err)) return false;
  // First start: nothing was signed before, so the key may sign at once.
  if (schedule_.empty() && !create_key(now, err)) return false;
  return save_and_publish(now, err);
}

bool SigningKeys::rotate(int64_t now, std::string& err) {
  if (!make_dirs(opt_.key_dir, 0700, err)) return false;
  DirLock lock(opt_.key_dir);
  if (!lock.ok() || !load(err)) {
    if (err.empty()) err = "cannot lock " + opt_.key_dir;
    return false;
  }
  if (!create_key(now + opt_.publish_delay, err)) return false;
  if (save_and_publish(now, err)) return true;
  // The schedule was not written: the new key never signs, so its private
  // file must not stay behind.
  ::unlink((opt_.key_dir + "/" + schedule_.back().kid + ".pem").c_str());
  std::string ignored;
  load(ignored);  // and the schedule in memory is the one on disk again
  return false;
}

bool SigningKeys::reload_if_changed(int64_t now, std::string& err) {
  std::string path = opt_.key_dir + "/keys.json";
  FileStamp stamp = FileStamp::of(path);
  int stat_errno = errno;
  if (stamp == state_stamp_) return true;
  // The schedule we run on is gone (key_dir replaced, emptied, unreadable):
  // never a first start, which would make a new key and unpublish the keys
  // that signed every live token. Keep signing with the keys in memory.
  if (!stamp.exists && !schedule_.empty()) {
    err = path + ": " + std::strerror(stat_errno) + "; signing on with the keys in memory";
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
