#include "base/log.h"

#include <gtest/gtest.h>

namespace coral::log {
namespace {

TEST(Log, TextIsKeyValueWithQuotesOnlyWhereNeeded) {
  EXPECT_EQ(format_line(Format::text, Level::info, "listening",
                        {{"address", "http://127.0.0.1:8080"}, {"store", "memory"}}),
            "level=info msg=\"listening\" address=http://127.0.0.1:8080 store=memory");
  EXPECT_EQ(format_line(Format::text, Level::warn, "redis down", {{"error", "Connection refused"}, {"empty", ""}}),
            "level=warn msg=\"redis down\" error=\"Connection refused\" empty=\"\"");
}

TEST(Log, JsonEscapesEverythingItMust) {
  EXPECT_EQ(format_line(Format::json, Level::error, "bad \"input\"", {{"line", "a\nb\x01"}}),
            "\"level\":\"error\",\"msg\":\"bad \\\"input\\\"\",\"line\":\"a\\nb\\u0001\"");
}

// issue 16: control characters from clients (ESC, BEL, DEL, C1) reached the
// log raw, where a terminal showing the log would act on them.
TEST(Log, ControlCharactersFromClientsAreEscapedInBothFormats) {
  // ESC [ 2 J (clear screen), BEL, DEL, U+009B (CSI) as UTF-8, a raw 0x9b
  // byte (not UTF-8), and a plain é that stays as it is.
  const std::string hostile = std::string("x\x1b[2J\x07y\x7f") + "\xc2\x9b" + "z\x9b" + "\xc3\xa9";
  const std::string text = format_line(Format::text, Level::info, "peer registered", {{"component", hostile}});
  EXPECT_EQ(text, "level=info msg=\"peer registered\" component=\"x\\u001b[2J\\u0007y\\u007f\\u009bz\\x9b\xc3\xa9\"");
  const std::string json = format_line(Format::json, Level::info, "peer registered", {{"component", hostile}});
  EXPECT_EQ(json,
            "\"level\":\"info\",\"msg\":\"peer registered\",\"component\":\"x\\u001b[2J\\u0007y\\u007f\\u009bz\\ufffd\xc3\xa9\"");
  for (const std::string& line : {text, json}) {
    for (const char c : line) {
      const auto byte = static_cast<unsigned char>(c);
      EXPECT_FALSE(byte < 0x20 || byte == 0x7f) << line;
    }
    EXPECT_EQ(line.find("\xc2\x9b"), std::string::npos) << line;
    EXPECT_EQ(line.find('\x9b'), std::string::npos) << line;
  }
  // A value without spaces used to go out unquoted, raw.
  EXPECT_EQ(format_line(Format::text, Level::warn, "m", {{"peer", "a\x1b" "b"}}),
            "level=warn msg=\"m\" peer=\"a\\u001bb\"");
  // The message too.
  EXPECT_EQ(format_line(Format::text, Level::warn, "bell\x07", {}), "level=warn msg=\"bell\\u0007\"");
  // Plain UTF-8 stays unquoted.
  EXPECT_EQ(format_line(Format::text, Level::info, "m", {{"app", "caf\xc3\xa9"}}), "level=info msg=\"m\" app=caf\xc3\xa9");
}

TEST(Log, LevelsAndFormatsParse) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("warning"), Level::warn);
  EXPECT_FALSE(parse_level("loud"));
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_NE(parse_format("xml").error().find("text, json"), std::string::npos);
}

}  // namespace
}  // namespace coral::log
