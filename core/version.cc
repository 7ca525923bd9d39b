#include "core/version.h"

#include <lmdb.h>
#include <openssl/crypto.h>

#ifndef SPA_VERSION
#define SPA_VERSION "unknown"  // a build without the Makefile (the fuzz targets)
#endif

namespace spa::core {

const char* version() { return SPA_VERSION; }

std::string runtime_libraries() {
  int major = 0, minor = 0, patch = 0;
  mdb_version(&major, &minor, &patch);
  return std::string("OpenSSL ") + OpenSSL_version(OPENSSL_VERSION_STRING) + ", LMDB " + std::to_string(major) + "." +
         std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace spa::core
