// spa-auth's version (debian/changelog's, set by the Makefile) and the
// versions of the libraries this process runs with, for `spa-authd
// --version`, spa-authd's start line and the module's line in nginx's log.
#pragma once

#include <string>

namespace spa::core {

// "0.1.0": the version of debian/changelog this was built from.
const char* version();
// "OpenSSL 3.0.19, LMDB 0.9.24": the libraries core uses, as loaded
// (which, after a security update, may be newer than at build time).
std::string runtime_libraries();

}  // namespace spa::core
