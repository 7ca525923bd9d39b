#include "authd/http_message.h"

#include <strings.h>

#include <iterator>

namespace spa::authd::http {
namespace {

std::string nth(const Headers& headers, const std::string& name, size_t id) {
  auto [it, end] = headers.equal_range(name);
  for (; it != end; ++it, --id)
    if (id == 0) return it->second;
  return {};
}

}  // namespace

bool CaseInsensitiveLess::operator()(const std::string& a, const std::string& b) const {
  return strcasecmp(a.c_str(), b.c_str()) < 0;
}

std::string Request::get_header_value(const std::string& name, size_t id) const { return nth(headers, name, id); }

std::string Request::get_param_value(const std::string& name) const {
  auto it = params.find(name);
  return it == params.end() ? std::string() : it->second;
}

std::string Response::get_header_value(const std::string& name, size_t id) const { return nth(headers, name, id); }

void Response::set_header(const std::string& name, const std::string& value) {
  if (name.find_first_of(std::string("\r\n:\0", 4)) != std::string::npos) return;
  if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos) return;
  if (strcasecmp(name.c_str(), "Set-Cookie") != 0) headers.erase(name);  // one line per field, the last value set
  headers.emplace(name, value);
}

void Response::set_content(const std::string& content, const std::string& content_type) {
  body = content;
  headers.erase("Content-Type");
  set_header("Content-Type", content_type);
}

}  // namespace spa::authd::http
