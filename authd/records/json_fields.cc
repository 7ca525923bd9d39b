#include "authd/records/json_fields.h"

#include <limits>

#include "core/json_strict.h"

namespace spa::authd::records {

std::optional<nlohmann::json> parse_record(std::string_view text) {
  nlohmann::json j;
  std::string err;
  if (!core::parse_json_strict(text, j, err, core::JsonLimits{1 << 20, 8}) || !j.is_object()) return std::nullopt;
  return j;
}

bool read_value(const nlohmann::json& v, std::string& out) {
  if (!v.is_string()) return false;
  out = v.get<std::string>();
  return true;
}

bool read_value(const nlohmann::json& v, bool& out) {
  if (!v.is_boolean()) return false;
  out = v.get<bool>();
  return true;
}

bool read_value(const nlohmann::json& v, int64_t& out) {
  // Parsed non-negative numbers are unsigned: those past int64 are not ours.
  if (!v.is_number_integer() ||
      (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())))
    return false;
  out = v.get<int64_t>();
  return true;
}

bool read_value(const nlohmann::json& v, int& out) {
  int64_t wide = 0;
  if (!read_value(v, wide) || wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max())
    return false;
  out = static_cast<int>(wide);
  return true;
}

bool read_value(const nlohmann::json& v, uint64_t& out) {
  if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0)) return false;
  out = v.get<uint64_t>();
  return true;
}

FieldReader::FieldReader(const nlohmann::json& object) : ok_(object.is_object()) {
  if (ok_) left_ = object;
}

void FieldReader::version(int current) {
  auto it = left_.find(kVersionField);
  if (it == left_.end()) return;
  if (!it->is_number_integer() || *it != current) ok_ = false;
  left_.erase(it);
}

}  // namespace spa::authd::records
