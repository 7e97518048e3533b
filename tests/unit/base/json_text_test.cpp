#include "base/json_text.h"

#include <gtest/gtest.h>

namespace coral::base {
namespace {

TEST(ReplaceInvalidUtf8, KeepsUtf8AndControlsReplacesBrokenBytes) {
  EXPECT_EQ(replace_invalid_utf8(""), "");
  EXPECT_EQ(replace_invalid_utf8("caf\xc3\xa9 \xe2\x9c\x93\n\x01"), "caf\xc3\xa9 \xe2\x9c\x93\n\x01");
  EXPECT_EQ(replace_invalid_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(replace_invalid_utf8("\xc3"), "\xEF\xBF\xBD");              // cut short
  EXPECT_EQ(replace_invalid_utf8("\xed\xa0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
  EXPECT_EQ(replace_invalid_utf8("\xc0\xaf"), "\xEF\xBF\xBD\xEF\xBF\xBD");  // overlong '/'
}

TEST(AppendJsonString, EscapesAsHexDigits) {
  std::string out;
  append_json_string(out, "\x01\x1f\"\\\n");
  EXPECT_EQ(out, "\"\\u0001\\u001f\\\"\\\\\\n\"");
  out.clear();
  append_json_string(out, "\x7f\xc2\x9b\xff", JsonStringOptions{.escape_terminal_controls = true,
                                                               .invalid_bytes_as_hex = true});
  EXPECT_EQ(out, "\"\\u007f\\u009b\\xff\"");
}

}  // namespace
}  // namespace coral::base
