#include "base/base64.h"

#include <gtest/gtest.h>

namespace coral::base {
namespace {

TEST(Base64, KnownAnswers) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("\xfb\xff", Base64Alphabet::url, false), "-_8");
  EXPECT_EQ(base64_decode("Zm9vYg=="), "foob");
  EXPECT_EQ(base64_decode("Zm9vYg"), "foob");  // padding optional
  EXPECT_EQ(base64_decode("-_8", Base64Alphabet::url), "\xfb\xff");
}

TEST(Base64, RejectsMalformedInput) {
  EXPECT_FALSE(base64_decode("Zm9v!"));
  EXPECT_FALSE(base64_decode("Z"));
  EXPECT_FALSE(base64_decode("-_8"));  // URL alphabet in standard mode
  EXPECT_FALSE(base64_decode("Zm 9v"));
  // '=' only as padding that completes a group of four.
  EXPECT_EQ(base64_decode("Zm8="), "fo");
  EXPECT_FALSE(base64_decode("Zm8=="));
  EXPECT_FALSE(base64_decode("Zg="));
  EXPECT_FALSE(base64_decode("Zg==="));
  EXPECT_FALSE(base64_decode("Zm9v=="));
  EXPECT_FALSE(base64_decode("Z==="));
  EXPECT_FALSE(base64_decode("Zg==Zg=="));
  EXPECT_FALSE(base64_decode("a=b="));
  EXPECT_FALSE(base64_decode("aGVsbG8==", Base64Alphabet::url));
  EXPECT_EQ(base64_decode("aGVsbG8=", Base64Alphabet::url), "hello");
  EXPECT_EQ(base64_decode("aGVsbG8", Base64Alphabet::url), "hello");
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all += char(i);
  for (auto alphabet : {Base64Alphabet::standard, Base64Alphabet::url}) {
    EXPECT_EQ(base64_decode(base64_encode(all, alphabet), alphabet), all);
  }
}

}  // namespace
}  // namespace coral::base
