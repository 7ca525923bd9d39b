// What every JSON record of the store (authd/records/*.h) shares: the
// parse, the version rule, and its fields read and written from one list.
//
// A record R derives from JsonRecord<R> (a top-level value, with a format
// version) or JsonObject<R> (an object inside one), and lists its fields
// once, for both directions:
//
//   template <class Self, class Fields>
//   static void fields(Self& r, Fields& f) { f("id", r.id); f("mfa", r.mfa); ... }
//
// The rules, one place for all records:
// - Parsed strictly (core::parse_json_strict: duplicate names refused)
//   within the bounds the store's reader always used (1 MiB, depth 8).
// - Version: format 1 is today's and carries no version field, so that it
//   is byte for byte what the services wrote before records were typed. A
//   later format writes "v": N; a record whose "v" is not R::kVersion is
//   refused (nullopt), never half read.
// - A field that is absent takes its default, as the services' value()
//   reads did; one whose presence matters (or that older records lack and
//   a rewrite must not add) is a std::optional. A field of the wrong type
//   (a string for a number, a number past its type, an array that is not
//   of its element type) refuses the record.
// - Fields a record does not know are kept (`unknown`) and written back
//   as they were: today's services edit the JSON in place and so keep them
//   (the old user record's failed_logins, say).
// - Written: `unknown` first, then every field over it. JSON objects sort
//   their names, so the bytes are the services' dump() whatever the order.
#pragma once

#include <concepts>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spa::authd::records {

inline constexpr const char* kVersionField = "v";

// The object stored in `text`; nullopt when it is not JSON or not an object.
std::optional<nlohmann::json> parse_record(std::string_view text);

// A record inside a record (UserRecord::Mfa): read and written as an object.
template <class T>
concept NestedRecord = requires(const nlohmann::json& j, const T& t) {
  { T::from_object(j) } -> std::same_as<std::optional<T>>;
  { t.to_object() } -> std::same_as<nlohmann::json>;
};

// One value of a field, its type checked; false: the wrong type.
bool read_value(const nlohmann::json& v, std::string& out);
bool read_value(const nlohmann::json& v, bool& out);
bool read_value(const nlohmann::json& v, int& out);
bool read_value(const nlohmann::json& v, int64_t& out);
bool read_value(const nlohmann::json& v, uint64_t& out);
template <NestedRecord R>
bool read_value(const nlohmann::json& v, R& out) {
  auto r = R::from_object(v);
  if (r) out = std::move(*r);
  return r.has_value();
}
template <class T>
bool read_value(const nlohmann::json& v, std::vector<T>& out) {
  if (!v.is_array()) return false;
  std::vector<T> list;
  for (const auto& item : v) {
    T t{};
    if (!read_value(item, t)) return false;
    list.push_back(std::move(t));
  }
  out = std::move(list);
  return true;
}
template <class T>
bool read_value(const nlohmann::json& v, std::optional<T>& out) {
  T t{};
  if (!read_value(v, t)) return false;
  out = std::move(t);
  return true;
}

template <class T>
nlohmann::json write_value(const T& v) {
  if constexpr (NestedRecord<T>) {
    return v.to_object();
  } else if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& item : v) a.push_back(write_value(item));
    return a;
  } else {
    return v;
  }
}

// Takes the fields out of a copy of `object`; what is left is unknown.
// Not an object: refused.
class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& object);
  // A top-level record's format: "v" absent (format 1) or `current`.
  void version(int current);
  // Absent: `out` keeps its default (an optional stays empty).
  template <class T>
  void operator()(const char* name, T& out) {
    auto it = left_.find(name);
    if (it == left_.end()) return;
    if (!read_value(*it, out)) ok_ = false;
    left_.erase(it);
  }
  bool ok() const { return ok_; }
  const nlohmann::json& unknown() const { return left_; }

 private:
  nlohmann::json left_;
  bool ok_ = true;
};

class FieldWriter {
 public:
  explicit FieldWriter(nlohmann::json& out) : out_(out) {}
  template <class T>
  void operator()(const char* name, const T& value) {
    out_[name] = write_value(value);
  }
  template <class T>
  void operator()(const char* name, const std::optional<T>& value) {
    if (value) out_[name] = write_value(*value);
  }

 private:
  nlohmann::json& out_;
};

// An object inside a record, read and written through R::fields.
template <class R>
struct JsonObject {
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  nlohmann::json to_object() const {
    nlohmann::json j = unknown;
    FieldWriter w(j);
    R::fields(static_cast<const R&>(*this), w);
    return j;
  }
  // nullopt: not an object, another format, or a field of the wrong type.
  static std::optional<R> from_object(const nlohmann::json& j) {
    FieldReader f(j);
    if constexpr (requires { R::kVersion; }) f.version(R::kVersion);
    R r;
    R::fields(r, f);
    if (!f.ok()) return std::nullopt;
    r.unknown = f.unknown();
    return r;
  }
};

// A record stored as a value of its own: the JSON text.
template <class R>
struct JsonRecord : JsonObject<R> {
  // The stored text, byte for byte what the services' dump() wrote (throws
  // nlohmann::json::type_error on text that is not UTF-8, as that did).
  std::string to_json() const { return this->to_object().dump(); }
  // nullopt: not JSON, not an object, another format, or a field of the wrong type.
  static std::optional<R> from_json(std::string_view text) {
    auto j = parse_record(text);
    return j ? JsonObject<R>::from_object(*j) : std::nullopt;
  }
};

}  // namespace spa::authd::records
