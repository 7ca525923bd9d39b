#include "core/names.h"

#include <algorithm>
#include <cctype>
#include <cstddef>

namespace spa::core {
namespace {

struct NameRule {
  std::string_view punctuation;  // allowed besides ASCII letters and digits
  size_t max_length;
};

NameRule rule(NameKind kind) {
  switch (kind) {
    case NameKind::kParameter: return {"_-.", 128};
    case NameKind::kHeader: return {"-_", 128};
    case NameKind::kZone: return {"_-", 64};
    case NameKind::kVariable: return {"_", std::string_view::npos};
  }
  return {"", 0};
}

}  // namespace

bool valid_name(std::string_view name, NameKind kind) {
  NameRule r = rule(kind);
  return !name.empty() && name.size() <= r.max_length && std::all_of(name.begin(), name.end(), [&](unsigned char c) {
    return std::isalnum(c) || r.punctuation.find(static_cast<char>(c)) != std::string_view::npos;
  });
}

}  // namespace spa::core
