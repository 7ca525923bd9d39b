// JwksFile: a JWKS on disk, re-read when it changes. Checks the file at most
// once per interval; a broken new version keeps the previous keys.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/jwk.h"

namespace spa::core {

struct FileStamp {
  uint64_t dev = 0, ino = 0, size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The file system as JwksFile sees it; tests pass a fake one.
class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual bool stat(const std::string& path, FileStamp& out, std::string& err) = 0;
  virtual bool read(const std::string& path, std::string& out, size_t max_bytes, std::string& err) = 0;
};

FileSystem& real_file_system();

// Reads a whole small file (secrets, keys); false with a reason on failure.
bool read_small_file(FileSystem& fs, const std::string& path, std::string& out, std::string& err);

class JwksFile {
 public:
  static constexpr size_t kMaxBytes = 1 << 20;

  JwksFile(std::string path, FileSystem& fs, int64_t check_interval_ms = 1000)
      : path_(std::move(path)), fs_(fs), interval_ms_(check_interval_ms) {}

  // First load; false (with the reason) when the file is missing or bad.
  bool load(std::string& err, std::vector<std::string>& warnings);

  enum class Outcome { kUnchanged, kReloaded, kFailed };
  struct Refresh {
    Outcome outcome = Outcome::kUnchanged;
    std::string error;                  // kFailed: why the new file was refused
    std::vector<std::string> warnings;  // keys skipped in a reloaded file
  };
  // Called per request; stats the file only when the interval has passed,
  // parses it only when its stamp changed, and reports a failure once per
  // distinct broken version.
  Refresh refresh(int64_t now_ms);

  const std::shared_ptr<const Jwks>& keys() const { return keys_; }
  const std::string& path() const { return path_; }
  uint64_t reloads() const { return reloads_; }
  uint64_t failures() const { return failures_; }

 private:
  bool read_and_parse(std::shared_ptr<Jwks>& out, std::string& err, std::vector<std::string>& warnings);

  std::string path_;
  FileSystem& fs_;
  int64_t interval_ms_;
  bool checked_ = false;
  int64_t last_check_ms_ = 0;
  FileStamp loaded_stamp_;
  FileStamp failed_stamp_;
  bool have_failed_stamp_ = false;
  std::shared_ptr<const Jwks> keys_;
  uint64_t reloads_ = 0, failures_ = 0;
};

}  // namespace spa::core
