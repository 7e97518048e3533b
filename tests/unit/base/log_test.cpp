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

TEST(Log, LevelsAndFormatsParse) {
  EXPECT_EQ(parse_level("debug"), Level::debug);
  EXPECT_EQ(parse_level("warning"), Level::warn);
  EXPECT_FALSE(parse_level("loud"));
  EXPECT_EQ(parse_format("json"), Format::json);
  EXPECT_NE(parse_format("xml").error().find("text, json"), std::string::npos);
}

}  // namespace
}  // namespace coral::log
