// The sessions database's record as every nginx worker decodes it from a
// file spa-authd wrote (or a damaged one): only the record size decodes, a
// decoded record encodes to bytes that decode to it again, and the
// arithmetic on a damaged record's times is defined (UBSan watches). The
// module treats a record it refuses as revoked.
#include "core/session_record.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes = fuzz::as_text(data, size);
  auto record = SessionRecord::decode(bytes);
  if (!record) return 0;
  FUZZ_CHECK(bytes.size() == SessionRecord::kSize);
  std::string again = record->encode();
  FUZZ_CHECK(again.size() == SessionRecord::kSize);
  auto twice = SessionRecord::decode(again);
  FUZZ_CHECK(twice && twice->encode() == again);
  // A floor is after the session began (0 is "no floor").
  if (record->tokens_not_before != 0) FUZZ_CHECK(record->tokens_not_before > record->created_at);
  // Only an active record is ever usable.
  if (record->state != SessionState::kActive) FUZZ_CHECK(!record->valid_at(record->created_at));
  if (record->accepts(record->created_at, std::nullopt)) FUZZ_CHECK(record->tokens_not_before == 0);
  return 0;
}
