// Small file helpers for spa-authd: durable, atomic replacement.
#pragma once

#include <string>
#include <sys/types.h>

namespace spa::authd {

// Writes `content` to a temp file beside `path`, fsyncs it, renames it over
// `path` and fsyncs the directory: readers see the old file or the new one,
// never a half-written one, and a crash after return keeps the new one.
bool write_file_atomic(const std::string& path, const std::string& content, mode_t mode, std::string& err);

bool read_file(const std::string& path, std::string& out, std::string& err);

// A file only this process's user may read or change: a regular file of at
// most 4 KiB, readable by neither its group nor others (nginx's user is in
// spa-authd's group), owned by this user or root, in a directory neither
// group nor others may write. False, with the reason, for anything else.
bool read_private_file(const std::string& path, std::string& out, std::string& err);
// A secret (a client secret, the SMTP password): a private file whose one
// trailing line break is not part of it; an empty secret is refused.
bool read_secret_file(const std::string& path, std::string& out, std::string& err);

// A directory this process may create files in (W_OK|X_OK, which also sees
// an immutable directory or a read-only mount, for root too), or one it
// could create (the nearest existing parent is such a directory); false
// with "<path> is not a directory" or "<path>: cannot be written (...)".
bool writable_dir(const std::string& path, std::string& err);
// The directory a path names a file in: "." for a bare name, "/" at the root.
std::string dir_of(const std::string& path);

// mkdir -p with `mode` for the directories it creates.
bool make_dirs(const std::string& path, mode_t mode, std::string& err);

}  // namespace spa::authd
