// What spa-authd accepts of an HTTP request, decided on the head alone,
// before a byte of the body is read. nginx is the only client; anything it
// would not send, and anything authd has no use for, is refused here with a
// status and an envelope code, so that no part of a request is read one way
// by nginx and another way by us. docs/authd.md "The HTTP edge" lists each
// rule and why.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "authd/http_message.h"

namespace spa::authd::http {

constexpr size_t kMaxBodyBytes = 64 * 1024;
constexpr size_t kMaxHeadBytes = 64 * 1024;  // request line and fields together
constexpr size_t kMaxTargetBytes = 8 * 1024;
constexpr size_t kMaxFieldLines = 100;

struct Refusal {
  int status;
  std::string code;
  std::string message;
};

// Checks `req` (method, target, version, headers as received) and fills
// req.path and req.params from the target. `content_length` is set to the
// body's length (0 when none). `expect_continue` says the client waits for
// "100 Continue" before it sends the body.
std::optional<Refusal> check_request_head(Request& req, size_t& content_length, bool& expect_continue);

// The target's path and query (origin-form only, RFC 9112 §3.2.1), both
// checked: the path must be canonical (no percent-encoding, no dot or empty
// segments), so routes match exactly the bytes nginx matched its locations
// against; query parameters are decoded, and each name may appear once.
std::optional<Refusal> parse_target(const std::string& target, std::string& path, Params& params);

}  // namespace spa::authd::http
