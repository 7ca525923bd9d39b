#include "authd/files.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

namespace spa::authd {

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
}

namespace {

bool fail(std::string& err, const std::string& what) {
  err = what + ": " + std::strerror(errno);
  return false;
}

}  // namespace

bool write_file_atomic(const std::string& path, const std::string& content, mode_t mode, std::string& err) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  // A new file of our own, never one someone placed there: whatever has the
  // name (a stale temporary, a planted symlink to a file of root's) is
  // removed first (unlink removes a link, not its target), and O_EXCL |
  // O_NOFOLLOW refuses anything that appears in between.
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
  if (fd < 0) return fail(err, "create " + tmp);
  ::fchmod(fd, mode);  // not subject to the umask
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fail(err, "write " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return false;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    fail(err, "fsync " + tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return false;
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    fail(err, "rename to " + path);
    ::unlink(tmp.c_str());
    return false;
  }
  int dir = ::open(dir_of(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

bool read_file(const std::string& path, std::string& out, std::string& err) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(err, "read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool read_private_file(const std::string& path, std::string& out, std::string& err) {
  auto mode_text = [](mode_t m) {
    return std::to_string((m >> 6) & 7) + std::to_string((m >> 3) & 7) + std::to_string(m & 7);
  };
  // The file as the kernel resolves it (symlinks followed once, here), and
  // every directory above it: each this user's or root's, and none that
  // another may write (unless sticky, like /tmp: nobody else can replace
  // what is ours there). Otherwise whoever could write one could point the
  // name at another file.
  char real[PATH_MAX];
  if (!::realpath(path.c_str(), real)) return fail(err, "read " + path);
  // The directories of the name as given (who may change a symlink in
  // them) and of the file it resolves to.
  std::vector<std::string> dirs;
  for (const std::string& start : {path, std::string(real)})
    for (std::string dir = dir_of(start);; dir = dir_of(dir)) {
      dirs.push_back(dir);
      if (dir == "/" || dir == "." || dir_of(dir) == dir) break;
    }
  for (const std::string& dir : dirs) {
    struct stat d;
    if (::stat(dir.c_str(), &d) != 0) return fail(err, "stat " + dir);
    if (d.st_uid != ::geteuid() && d.st_uid != 0) {
      err = path + ": the directory " + dir + " belongs to uid " + std::to_string(d.st_uid) + ", who could replace the file";
      return false;
    }
    if ((d.st_mode & 022) && !(d.st_mode & S_ISVTX)) {
      err = path + ": the directory " + dir + " may be written by its group or others (mode " + mode_text(d.st_mode) +
            "), who could replace the file";
      return false;
    }
  }
  int fd = ::open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
  if (fd < 0) return fail(err, "read " + path);
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0;
  if (!ok) err = path + ": cannot stat";
  else if (!S_ISREG(st.st_mode)) err = path + " is not a regular file", ok = false;
  else if (st.st_mode & 077)
    err = path + " may be read by its group or others (mode " + mode_text(st.st_mode) +
          "; nginx's user is in spa-authd's group): chmod 0400 and chown spa-authd",
    ok = false;
  else if (st.st_uid != ::geteuid() && st.st_uid != 0)
    err = path + " belongs to uid " + std::to_string(st.st_uid) + ", who could change it: chown spa-authd", ok = false;
  else if (st.st_size > 4096) err = path + " is larger than 4 KiB: not a secret", ok = false;
  if (ok) {
    char buf[4097];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 || n > 4096) {
      err = path + ": cannot be read (or larger than 4 KiB)", ok = false;
    } else {
      out.assign(buf, static_cast<size_t>(n));
      ::explicit_bzero(buf, sizeof buf);
    }
  }
  ::close(fd);
  return ok;
}

bool read_secret_file(const std::string& path, std::string& out, std::string& err) {
  if (!read_private_file(path, out, err)) return false;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  if (!out.empty() && out.back() == '\r') out.pop_back();
  if (out.empty()) {
    err = path + " is empty";
    return false;
  }
  return true;
}

bool writable_dir(const std::string& path, std::string& err) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return fail(err, path);
    // Not there yet: spa-authd creates it, in the nearest directory that is.
    std::string parent = dir_of(path);
    if (parent == path) return fail(err, path);
    std::string why;
    if (writable_dir(parent, why)) return true;
    err = path + " cannot be created: " + why;
    return false;
  }
  if (!S_ISDIR(st.st_mode)) {
    err = path + " is not a directory";
    return false;
  }
  if (::access(path.c_str(), W_OK | X_OK) != 0) {
    err = path + ": cannot be written (" + std::strerror(errno) + ")";
    return false;
  }
  return true;
}

bool make_dirs(const std::string& path, mode_t mode, std::string& err) {
  if (path.empty()) return true;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return true;
    err = path + " exists and is not a directory";
    return false;
  }
  if (!make_dirs(dir_of(path), 0755, err)) return false;
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST) return fail(err, "mkdir " + path);
  return true;
}

}  // namespace spa::authd
