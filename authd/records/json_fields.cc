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

FieldReader::FieldReader(const nlohmann::json& object) : ok_(object.is_object()) {
  if (ok_) left_ = object;
}

const nlohmann::json* FieldReader::find(const char* name) const {
  auto it = left_.find(name);
  return it == left_.end() ? nullptr : &*it;
}

void FieldReader::done(const char* name, bool good) {
  if (!good) ok_ = false;
  left_.erase(name);
}

void FieldReader::version(int current) {
  if (const nlohmann::json* v = find(kVersionField)) done(kVersionField, v->is_number_integer() && *v == current);
}

void FieldReader::take(const char* name, std::string& out) {
  if (const nlohmann::json* v = find(name)) {
    if (v->is_string()) out = v->get<std::string>();
    done(name, v->is_string());
  }
}

void FieldReader::take(const char* name, bool& out) {
  if (const nlohmann::json* v = find(name)) {
    if (v->is_boolean()) out = v->get<bool>();
    done(name, v->is_boolean());
  }
}

void FieldReader::take(const char* name, int64_t& out) {
  if (const nlohmann::json* v = find(name)) {
    // Parsed non-negative numbers are unsigned: those past int64 are not ours.
    bool good = v->is_number_integer() &&
                (!v->is_number_unsigned() || v->get<uint64_t>() <= uint64_t(std::numeric_limits<int64_t>::max()));
    if (good) out = v->get<int64_t>();
    done(name, good);
  }
}

void FieldReader::take(const char* name, int& out) {
  int64_t wide = out;
  if (!has(name)) return;
  take(name, wide);
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) ok_ = false;
  else out = static_cast<int>(wide);
}

void FieldReader::take(const char* name, uint64_t& out) {
  if (const nlohmann::json* v = find(name)) {
    bool good = v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0);
    if (good) out = v->get<uint64_t>();
    done(name, good);
  }
}

void FieldReader::take(const char* name, std::vector<std::string>& out) {
  if (const nlohmann::json* v = find(name)) {
    bool good = v->is_array() && std::all_of(v->begin(), v->end(), [](const auto& e) { return e.is_string(); });
    if (good) out = v->get<std::vector<std::string>>();
    done(name, good);
  }
}

}  // namespace spa::authd::records
