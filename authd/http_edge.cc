#include "authd/http_edge.h"

#include <algorithm>
#include <array>
#include <string_view>

#include "core/http_fields.h"

namespace spa::authd::http {
namespace {

Refusal bad(const std::string& message) { return {400, "invalid_request", message}; }

bool is_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// unreserved (RFC 3986 §2.3): the only characters of our routes' paths.
bool path_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// query = *( pchar / "/" / "?" ) (RFC 3986 §3.4), '%' only as %HH, and no
// ';': the module (core/query.h) reads it as a separator, as some servers
// do, and we would read it as part of a value.
bool query_char(char c) {
  return path_char(c) || std::string_view("!$&'()*+,=:@/?%").find(c) != std::string_view::npos;
}

bool has_control(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// The media type of a Content-Type value, lowercase, parameters dropped.
std::string media_type(std::string_view value) {
  std::string_view type = core::trim_ows(value.substr(0, value.find(';')));
  std::string out(type);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

std::optional<Refusal> parse_target(const std::string& target, std::string& path, Params& params) {
  if (target.size() > kMaxTargetBytes) return Refusal{414, "uri_too_long", "request URI too long"};
  if (target.empty() || target[0] != '/') return bad("the request target must be a path");
  size_t q = target.find('?');
  std::string_view p = std::string_view(target).substr(0, q);
  // Segments of unreserved characters, none empty, none "." or "..": the
  // path is its own normal form, so what nginx's location matched (after its
  // decoding and merging) is what the route pattern matches here.
  if (p != "/") {
    size_t start = 1;
    while (start <= p.size()) {
      size_t end = std::min(p.find('/', start), p.size());
      std::string_view seg = p.substr(start, end - start);
      if (seg.empty() || seg == "." || seg == ".." || !std::all_of(seg.begin(), seg.end(), path_char))
        return bad("the request path must be canonical: letters, digits and -._~ between single slashes");
      start = end + 1;
    }
  }
  path.assign(p);
  params.clear();
  if (q == std::string::npos) return std::nullopt;
  std::string_view query = std::string_view(target).substr(q + 1);
  for (size_t i = 0; i < query.size(); ++i) {
    if (!query_char(query[i])) return bad("the query has a character that must be percent-encoded");
    if (query[i] == '%' && (i + 2 >= query.size() || !is_hex(query[i + 1]) || !is_hex(query[i + 2])))
      return bad("the query has a malformed percent-encoding");
  }
  size_t start = 0;
  while (start <= query.size()) {
    size_t end = std::min(query.find('&', start), query.size());
    std::string_view pair = query.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string name = core::percent_decode(pair.substr(0, eq), true);
    std::string value = eq == std::string_view::npos ? std::string() : core::percent_decode(pair.substr(eq + 1), true);
    if (name.empty()) return bad("a query parameter has no name");
    if (has_control(name) || has_control(value)) return bad("a query parameter holds a control character");
    // RFC 6749 §3.1: parameters are not repeated; which copy counts would
    // otherwise depend on the reader.
    if (params.count(name)) return bad("query parameter " + name.substr(0, 32) + " appears more than once");
    params.emplace(std::move(name), std::move(value));
  }
  return std::nullopt;
}

std::optional<Refusal> check_request_head(Request& req, size_t& content_length, bool& expect_continue) {
  content_length = 0;
  expect_continue = false;
  if (req.version != "HTTP/1.1" && req.version != "HTTP/1.0")
    return Refusal{505, "http_version_not_supported", "HTTP version not supported"};

  static const std::array<std::string_view, 5> kMethods = {"GET", "HEAD", "POST", "PATCH", "DELETE"};
  static const std::array<std::string_view, 4> kRefusedMethods = {"PUT", "OPTIONS", "TRACE", "CONNECT"};
  if (std::find(kMethods.begin(), kMethods.end(), req.method) == kMethods.end()) {
    if (std::find(kRefusedMethods.begin(), kRefusedMethods.end(), req.method) != kRefusedMethods.end())
      return Refusal{405, "method_not_allowed", "method not allowed"};
    return Refusal{501, "not_implemented", "unknown method"};
  }

  if (req.headers.size() > kMaxFieldLines)
    return Refusal{431, "request_header_fields_too_large", "too many header fields"};
  // Fields authd reads as one value: a second line would be read as the
  // first by us and perhaps as the second (or both) by someone else.
  for (const char* name : {"Host", "Content-Length", "Content-Type", "Authorization", "Origin", "X-Request-Id",
                           "X-Real-IP", "Expect", "Transfer-Encoding", "Content-Encoding"})
    if (req.headers.count(name) > 1) return bad(std::string("more than one ") + name + " field");
  // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host.
  if (req.version == "HTTP/1.1" && !req.has_header("Host")) return bad("an HTTP/1.1 request needs a Host field");

  if (auto r = parse_target(req.target, req.path, req.params)) return r;

  // Framing by Content-Length alone: nginx always sends one (or none for an
  // empty GET). A transfer coding is refused, with a Content-Length beside
  // it as RFC 9112 §6.1 asks (400), alone as a length we require (411).
  if (req.has_header("Transfer-Encoding")) {
    if (req.has_header("Content-Length")) return bad("Transfer-Encoding and Content-Length together");
    return Refusal{411, "length_required", "the request body needs a Content-Length (no transfer coding)"};
  }
  if (req.has_header("Content-Length")) {
    std::string v = req.get_header_value("Content-Length");
    if (v.empty() || v.size() > 19 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("Content-Length must be a number");
    unsigned long long n = std::stoull(v);
    if (n > kMaxBodyBytes) return Refusal{413, "payload_too_large", "request body too large"};
    content_length = static_cast<size_t>(n);
  }
  if (content_length > 0 && (req.method == "GET" || req.method == "HEAD"))
    return bad(req.method + " takes no request body");

  // No content coding is decoded: the body limit counts the bytes we keep.
  // Any Content-Encoding, "identity" too (RFC 9110 §8.4.1 reserves it for
  // Accept-Encoding), is refused before the body is read.
  if (req.has_header("Content-Encoding"))
    return Refusal{415, "unsupported_media_type", "request bodies take no Content-Encoding"};
  // Bodies are JSON objects; a form or multipart body is not parsed by
  // anyone here, so it is refused rather than read as something else.
  if (content_length > 0 && media_type(req.get_header_value("Content-Type")) != "application/json")
    return Refusal{415, "unsupported_media_type", "request bodies must be application/json"};

  if (req.has_header("Expect")) {
    if (!core::iequals(core::trim_ows(req.get_header_value("Expect")), "100-continue"))
      return Refusal{417, "expectation_failed", "only Expect: 100-continue is understood"};
    expect_continue = content_length > 0;
  }
  // Range and If-Range are never read: every answer is the whole
  // representation (RFC 9110 §14.2 lets a server ignore Range).
  return std::nullopt;
}

}  // namespace spa::authd::http
