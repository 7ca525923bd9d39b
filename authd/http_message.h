// The request and response that spa-authd's routes see. The shape (names
// and calls) is cpp-httplib's, which the routes were written against; what
// fills them is authd/http_server.cc, and nothing in them is decoded or
// interpreted beyond what authd/http_edge.h says.
#pragma once

#include <map>
#include <regex>
#include <string>

namespace spa::authd::http {

// Field names compare without ASCII case (RFC 9110 §5.1).
struct CaseInsensitiveLess {
  bool operator()(const std::string& a, const std::string& b) const;
};
using Headers = std::multimap<std::string, std::string, CaseInsensitiveLess>;
using Params = std::multimap<std::string, std::string>;

struct Request {
  std::string method;
  std::string target;   // as sent: path and query, undecoded
  std::string path;     // the target's path; authd/http_edge.cc admits only canonical ones, so never decoded
  std::string version;  // "HTTP/1.1" or "HTTP/1.0"
  Headers headers;      // as sent (no percent-decoding, no pseudo-headers)
  std::string body;
  Params params;        // the query's parameters, percent-decoded, names unique
  std::smatch matches;  // the route's pattern matched against `path`

  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
  // The id-th field line of that name, or "".
  std::string get_header_value(const std::string& name, size_t id = 0) const;
  size_t get_header_value_count(const std::string& name) const { return headers.count(name); }
  bool has_param(const std::string& name) const { return params.count(name) > 0; }
  std::string get_param_value(const std::string& name) const;
};

struct Response {
  int status = -1;
  Headers headers;
  std::string body;

  bool has_header(const std::string& name) const { return headers.count(name) > 0; }
  std::string get_header_value(const std::string& name, size_t id = 0) const;
  // Sets a field (Set-Cookie adds a line each time); a value with CR, LF or NUL
  // is dropped, so nothing taken from a request can split the response.
  void set_header(const std::string& name, const std::string& value);
  void set_content(const std::string& content, const std::string& content_type);
};

}  // namespace spa::authd::http
