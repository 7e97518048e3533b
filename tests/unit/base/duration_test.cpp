#include "base/duration.h"

#include <gtest/gtest.h>

namespace coral::base {
namespace {

using std::chrono::milliseconds;

TEST(Duration, ParsesEveryUnitAndCombinations) {
  EXPECT_EQ(parse_duration("300s"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("5m"), milliseconds(300'000));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(5'400'000));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("1s500ms"), milliseconds(1500));
  EXPECT_EQ(parse_duration("60"), milliseconds(60'000));  // plain seconds
}

TEST(Duration, RejectsWhatItCannotRead) {
  for (const char* bad : {"", "s", "5x", "-5s", "5 s", "1m30", "99999999999h"}) {
    const auto parsed = parse_duration(bad);
    ASSERT_FALSE(parsed) << bad;
    EXPECT_NE(parsed.error().find("invalid duration \"" + std::string(bad) + "\""), std::string::npos)
        << parsed.error();
  }
  EXPECT_NE(parse_duration("5x").error().find("unknown unit \"x\""), std::string::npos);
}

TEST(Duration, FormatsTheShortestForm) {
  EXPECT_EQ(format_duration(milliseconds(300'000)), "5m");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(5'400'000)), "1h30m");
  EXPECT_EQ(parse_duration(format_duration(milliseconds(3'723'004))), milliseconds(3'723'004));
}

}  // namespace
}  // namespace coral::base
