// One error channel from the store to the route: a typed code plus a
// message for the log, never decided by parsing a message. The HTTP
// status and snake_case code of each Errc live in one table (errors.cc),
// the way the module maps core::Status.
//
// Ownership while issue 13 lands: the store layer produces the kStore*
// codes; the services add their API codes below the marker.
#pragma once

#include <cstdint>
#include <string>

namespace spa::authd {

enum class Errc : uint8_t {
  kOk = 0,
  // The store (authd/store.h).
  kStoreFull,      // refused: past [store] max_size (503 store_full)
  kStoreReplaced,  // data.mdb was replaced underneath (503 store_unavailable)
  kStoreFailed,    // any other store failure (500 internal_error, logged)
  // API codes (services) go below.
};

struct Error {
  Errc code = Errc::kOk;
  std::string message;  // for the log; never shown to a client as is
  bool ok() const { return code == Errc::kOk; }
};

}  // namespace spa::authd
