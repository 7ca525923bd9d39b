// What every JSON record of the store (authd/records/*.h) shares: the
// parse, the version rule, and reading fields with their types checked.
//
// The rules, one place for all records:
// - Parsed strictly (core::parse_json_strict: duplicate names refused)
//   within the bounds the store's reader always used (1 MiB, depth 8).
// - Version: format 1 is today's and carries no version field, so that it
//   is byte for byte what the services wrote before records were typed. A
//   later format writes "v": N; a record whose "v" is not 1 is refused
//   (nullopt), never half read.
// - A field that is absent takes its default, as the services' value()
//   reads did; one whose presence matters (or that older records lack and
//   a rewrite must not add) is a std::optional. A field of the wrong type
//   refuses the record.
// - Fields a record does not know are kept (`unknown`) and written back
//   as they were: today's services edit the JSON in place and so keep them
//   (the old user record's failed_logins, say).
#pragma once

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

// Takes the known fields out of a copy of `object`, checking each one's
// type; what is left is the record's unknown fields. Not an object: refused.
class FieldReader {
 public:
  explicit FieldReader(const nlohmann::json& object);

  // A top-level record's format: "v" absent (format 1) or `current`.
  void version(int current);

  // Absent: `out` keeps its default. Present with another type: refused.
  void take(const char* name, std::string& out);
  void take(const char* name, bool& out);
  void take(const char* name, int& out);
  void take(const char* name, int64_t& out);
  void take(const char* name, uint64_t& out);
  void take(const char* name, std::vector<std::string>& out);
  template <class T>
  void take(const char* name, std::optional<T>& out) {
    if (!has(name)) return;
    T value{};
    take(name, value);
    out = std::move(value);
  }
  // A nested record (R::from_object), or an array of them.
  template <class R>
  void take_record(const char* name, std::optional<R>& out) {
    if (const nlohmann::json* v = find(name)) {
      out = R::from_object(*v);
      done(name, out.has_value());
    }
  }
  template <class R>
  void take_records(const char* name, std::optional<std::vector<R>>& out) {
    const nlohmann::json* v = find(name);
    if (!v) return;
    if (!v->is_array()) return done(name, false);
    std::vector<R> list;
    for (const auto& item : *v) {
      auto r = R::from_object(item);
      if (!r) return done(name, false);
      list.push_back(std::move(*r));
    }
    out = std::move(list);
    done(name, true);
  }

  bool has(const char* name) const { return left_.contains(name); }
  bool ok() const { return ok_; }
  // The fields no take() asked for.
  nlohmann::json unknown() const { return left_; }

 private:
  const nlohmann::json* find(const char* name) const;
  // The field is read (good) or refuses the record; either way it is not unknown.
  void done(const char* name, bool good);

  nlohmann::json left_;
  bool ok_ = true;
};

// Writing: `unknown` first, then every known field over it (the output
// object's names sort, so the order of the puts does not matter).
template <class T>
void put_if(nlohmann::json& j, const char* name, const std::optional<T>& value) {
  if (value) j[name] = *value;
}
template <class R>
void put_record_if(nlohmann::json& j, const char* name, const std::optional<R>& value) {
  if (value) j[name] = value->to_object();
}
template <class R>
void put_records_if(nlohmann::json& j, const char* name, const std::optional<std::vector<R>>& list) {
  if (!list) return;
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : *list) a.push_back(r.to_object());
  j[name] = std::move(a);
}

// The JSON text of a record's object: as the services' dump() wrote it
// (throws nlohmann::json::type_error on text that is not UTF-8, as that did).
inline std::string dump(const nlohmann::json& j) { return j.dump(); }

// A top-level record R from its stored text (R::from_object does the fields).
template <class R>
std::optional<R> from_text(std::string_view text) {
  auto j = parse_record(text);
  return j ? R::from_object(*j) : std::nullopt;
}

}  // namespace spa::authd::records
