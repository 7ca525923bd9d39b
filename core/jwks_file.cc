#include "core/jwks_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace spa::core {
namespace {

class PosixFileSystem final : public FileSystem {
 public:
  bool stat(const std::string& path, FileStamp& out, std::string& err) override {
    struct ::stat st;
    if (::stat(path.c_str(), &st) != 0) {
      err = std::strerror(errno);
      return false;
    }
    out.dev = st.st_dev;
    out.ino = st.st_ino;
    out.size = static_cast<uint64_t>(st.st_size);
    out.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    return true;
  }

  bool read(const std::string& path, std::string& out, size_t max_bytes, std::string& err) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      err = std::strerror(errno);
      return false;
    }
    out.clear();
    char buf[16384];
    bool ok = true;
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0) {
        if (errno == EINTR) continue;
        err = std::strerror(errno);
        ok = false;
        break;
      }
      if (n == 0) break;
      if (out.size() + static_cast<size_t>(n) > max_bytes) {
        err = "file larger than " + std::to_string(max_bytes) + " bytes";
        ok = false;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return ok;
  }
};

}  // namespace

FileSystem& real_file_system() {
  static PosixFileSystem fs;
  return fs;
}

bool read_small_file(FileSystem& fs, const std::string& path, std::string& out, std::string& err) {
  return fs.read(path, out, 64 * 1024, err);
}

bool JwksFile::read_and_parse(std::shared_ptr<Jwks>& out, std::string& err,
                              std::vector<std::string>& warnings) {
  std::string text;
  if (!fs_.read(path_, text, kMaxBytes, err)) return false;
  auto parsed = std::make_shared<Jwks>();
  if (!Jwks::parse(text, *parsed, err, warnings)) return false;
  out = std::move(parsed);
  return true;
}

bool JwksFile::load(std::string& err, std::vector<std::string>& warnings) {
  FileStamp stamp;
  if (!fs_.stat(path_, stamp, err)) return false;
  std::shared_ptr<Jwks> parsed;
  if (!read_and_parse(parsed, err, warnings)) return false;
  keys_ = std::move(parsed);
  loaded_stamp_ = stamp;
  return true;
}

JwksFile::Refresh JwksFile::refresh(int64_t now_ms) {
  Refresh r;
  // A clock that went backwards counts as "time to look again".
  if (checked_ && now_ms >= last_check_ms_ && now_ms - last_check_ms_ < interval_ms_) return r;
  checked_ = true;
  last_check_ms_ = now_ms;
  FileStamp stamp;
  std::string err;
  if (!fs_.stat(path_, stamp, err)) {
    // Gone (or unreadable): keep serving the keys we have, say so once.
    FileStamp gone;
    if (have_failed_stamp_ && failed_stamp_ == gone) return r;
    failed_stamp_ = gone;
    have_failed_stamp_ = true;
    ++failures_;
    r.outcome = Outcome::kFailed;
    r.error = err;
    return r;
  }
  if (stamp == loaded_stamp_) {
    // The loaded file is back (moved away and back, or restored): whatever
    // failed before is over, and the next failure is a new one to report.
    have_failed_stamp_ = false;
    return r;
  }
  if (have_failed_stamp_ && stamp == failed_stamp_) return r;
  std::shared_ptr<Jwks> parsed;
  if (!read_and_parse(parsed, r.error, r.warnings)) {
    failed_stamp_ = stamp;
    have_failed_stamp_ = true;
    ++failures_;
    r.outcome = Outcome::kFailed;
    return r;
  }
  if (keys_) parsed->adopt_unchanged_from(*keys_);
  keys_ = std::move(parsed);
  loaded_stamp_ = stamp;
  have_failed_stamp_ = false;
  ++reloads_;
  r.outcome = Outcome::kReloaded;
  return r;
}

}  // namespace spa::core
