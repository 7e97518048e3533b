#include "base/text.h"

#include <array>

#include <gtest/gtest.h>

namespace coral::base {
namespace {

TEST(Quote, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(quote(""), "\"\"");
  EXPECT_EQ(quote("plain text"), "\"plain text\"");
  EXPECT_EQ(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quote(std::string_view("\x00\x1b[2J\x7f\n", 7)), "\"\\x00\\x1b[2J\\x7f\\x0a\"");
}

TEST(Quote, EscapesBytesBeyondAsciiUnlessKeepingUtf8) {
  EXPECT_EQ(quote("caf\xc3\xa9"), "\"caf\\xc3\\xa9\"");
  const QuoteOptions utf8{.max_bytes = std::numeric_limits<std::size_t>::max(), .cut_names_size = false,
                          .keep_utf8 = true};
  EXPECT_EQ(quote("caf\xc3\xa9 \xe2\x9c\x93", utf8), "\"caf\xc3\xa9 \xe2\x9c\x93\"");
  // C1 controls (U+009B is CSI) and broken bytes are escaped all the same.
  EXPECT_EQ(quote("\xc2\x9b" "2J", utf8), "\"\\xc2\\x9b2J\"");
  EXPECT_EQ(quote("\xff\xc3", utf8), "\"\\xff\\xc3\"");
  EXPECT_EQ(quote("\xed\xa0\x80", utf8), "\"\\xed\\xa0\\x80\"");  // a surrogate
}

TEST(Quote, CutsLongText) {
  const std::string long_text(70, 'a');
  const QuoteOptions inside{.max_bytes = 64, .cut_names_size = false, .keep_utf8 = false};
  EXPECT_EQ(quote(long_text, inside), "\"" + std::string(64, 'a') + "...\"");
  const QuoteOptions sized{.max_bytes = 64, .cut_names_size = true, .keep_utf8 = false};
  EXPECT_EQ(quote(long_text, sized), "\"" + std::string(64, 'a') + "\"... (70 bytes)");
  EXPECT_EQ(quote(std::string(64, 'a'), sized), "\"" + std::string(64, 'a') + "\"");
  // The cut counts input bytes, before escaping.
  EXPECT_EQ(quote("\n\n\n", QuoteOptions{.max_bytes = 2, .cut_names_size = false, .keep_utf8 = false}),
            "\"\\x0a\\x0a...\"");
}

TEST(Hex, KnownAnswers) {
  const std::array<std::uint8_t, 4> bytes{0x00, 0x7f, 0xab, 0xff};
  EXPECT_EQ(hex(bytes), "007fabff");
  EXPECT_EQ(hex(bytes, HexCase::upper), "007FABFF");
  EXPECT_EQ(hex(std::string_view("\x01\xfe", 2)), "01fe");
  EXPECT_EQ(hex(std::span<const std::uint8_t>()), "");
  std::string out = "%";
  append_hex(out, 0x2f, HexCase::upper);
  EXPECT_EQ(out, "%2F");
}

TEST(Hex, DigitsOfEitherCase) {
  EXPECT_EQ(hex_digit('0'), 0);
  EXPECT_EQ(hex_digit('9'), 9);
  EXPECT_EQ(hex_digit('a'), 10);
  EXPECT_EQ(hex_digit('F'), 15);
  for (char c : {'g', 'G', ' ', '/', ':', '@', '`', '\0'}) EXPECT_FALSE(hex_digit(c)) << c;
}

TEST(Hex, DecodesExactLengthOnly) {
  std::array<std::uint8_t, 3> out{};
  ASSERT_TRUE(from_hex("00aBFf", out));
  EXPECT_EQ(out, (std::array<std::uint8_t, 3>{0x00, 0xab, 0xff}));
  // Wrong length, a non-digit, a sign: false, and `out` is zeroed.
  for (std::string_view bad : {"00abf", "00abff00", "00abfg", "+0abff", ""}) {
    out = {1, 2, 3};
    EXPECT_FALSE(from_hex(bad, out)) << bad;
    EXPECT_EQ(out, (std::array<std::uint8_t, 3>{})) << bad;
  }
}

TEST(Hex, RoundTripsEveryByte) {
  std::array<std::uint8_t, 256> all{};
  for (int i = 0; i < 256; ++i) all[i] = std::uint8_t(i);
  std::array<std::uint8_t, 256> back{};
  ASSERT_TRUE(from_hex(hex(all), back));
  EXPECT_EQ(back, all);
  ASSERT_TRUE(from_hex(hex(all, HexCase::upper), back));
  EXPECT_EQ(back, all);
}

TEST(Case, AsciiOnly) {
  EXPECT_EQ(to_lower("Content-Type: ABC xyz 09"), "content-type: abc xyz 09");
  EXPECT_EQ(to_lower("\xc3\x89"), "\xc3\x89");  // not locale-aware: bytes beyond ASCII stay
  EXPECT_EQ(to_lower('Z'), 'z');
  EXPECT_EQ(to_lower('['), '[');
  EXPECT_TRUE(iequals("Charset", "cHARSET"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("utf-8", "utf-8 "));
  EXPECT_FALSE(iequals("[", "{"));  // '[' + 0x20 is '{': only letters fold
  EXPECT_FALSE(iequals("\xc3\xa9", "\xc3\x89"));
}

TEST(Trim, SpacesAndTabsOnly) {
  EXPECT_EQ(trim("  \tvalue \t "), "value");
  EXPECT_EQ(trim("a b"), "a b");
  EXPECT_EQ(trim(" \t "), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim("\nvalue\r"), "\nvalue\r");
}

}  // namespace
}  // namespace coral::base
