#include "rpc/compression.h"

#include <gtest/gtest.h>

#include <string>

namespace coral::rpc {
namespace {

using namespace std::string_literals;

std::string compress(std::string_view data) {
  auto compressed = gzip_compress(data);
  EXPECT_TRUE(compressed) << compressed.error().message;
  return compressed ? *compressed : std::string();
}

TEST(Compression, EncodingNames) {
  EXPECT_TRUE(is_gzip("gzip"));
  EXPECT_TRUE(is_gzip("GZip"));
  EXPECT_FALSE(is_gzip("identity"));
  EXPECT_FALSE(is_gzip("gzip, br"));
  EXPECT_FALSE(is_gzip(""));
  EXPECT_TRUE(is_identity(""));
  EXPECT_TRUE(is_identity("Identity"));
  EXPECT_FALSE(is_identity("gzip"));
  EXPECT_EQ(kAcceptEncoding, "gzip");
}

TEST(Compression, RoundTrip) {
  for (const std::string& data : {""s, "a"s, "hello, world"s, std::string(1 << 20, 'x'), "\x00\x01\xff\xfe"s}) {
    const std::string compressed = compress(data);
    ASSERT_GE(compressed.size(), 18u);  // gzip header + trailer
    EXPECT_EQ(compressed.substr(0, 3), "\x1f\x8b\x08"s);  // gzip magic, deflate
    auto back = gzip_decompress(compressed, data.size());
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, data);
  }
}

TEST(Compression, RoundTripIncompressibleData) {
  std::string data;
  std::uint32_t state = 12345;
  for (int i = 0; i < 200000; ++i) {
    state = state * 1103515245 + 12345;
    data += static_cast<char>(state >> 24);
  }
  auto back = gzip_decompress(compress(data), data.size());
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
}

TEST(Compression, KnownAnswerFromAnotherEncoder) {
  // `printf hello | gzip -n`
  const std::string wire =
      "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xcb\x48\xcd\xc9\xc9\x07\x00\x86\xa6\x10\x36\x05\x00\x00\x00"s;
  auto data = gzip_decompress(wire, 100);
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(*data, "hello");
}

TEST(Compression, ConcatenatedMembers) {
  auto data = gzip_decompress(compress("hello, ") + compress("world"), 100);
  ASSERT_TRUE(data) << data.error().message;
  EXPECT_EQ(*data, "hello, world");
}

TEST(Compression, EmptyInputIsEmptyMessage) {
  auto data = gzip_decompress("", 0);
  ASSERT_TRUE(data);
  EXPECT_EQ(*data, "");
}

TEST(Compression, BombIsCappedAtTheLimit) {
  // 64 MiB of zeros compresses to ~64 KiB.
  const std::string bomb = compress(std::string(64u << 20, '\0'));
  ASSERT_LT(bomb.size(), 100u * 1024);
  auto data = gzip_decompress(bomb, 1u << 20);
  ASSERT_FALSE(data);
  EXPECT_EQ(data.error().code, Code::resource_exhausted);
  EXPECT_NE(data.error().message.find("1048576"), std::string::npos) << data.error().message;
}

TEST(Compression, LimitIsInclusive) {
  const std::string compressed = compress(std::string(1000, 'a'));
  EXPECT_TRUE(gzip_decompress(compressed, 1000));
  auto over = gzip_decompress(compressed, 999);
  ASSERT_FALSE(over);
  EXPECT_EQ(over.error().code, Code::resource_exhausted);
}

TEST(Compression, CorruptInputIsInvalidArgument) {
  const std::string good = compress("some message that is long enough to corrupt");
  const auto expect_invalid = [](std::string_view input) {
    auto data = gzip_decompress(input, 1 << 20);
    ASSERT_FALSE(data) << "accepted " << input.size() << " bytes";
    EXPECT_EQ(data.error().code, Code::invalid_argument);
    EXPECT_EQ(data.error().message, "invalid gzip data");
  };
  expect_invalid("not gzip at all");
  expect_invalid(good.substr(0, good.size() - 1));  // truncated trailer
  expect_invalid(good.substr(0, 10));               // header only
  std::string bad_crc = good;
  bad_crc[bad_crc.size() - 5] ^= 0x01;
  expect_invalid(bad_crc);
  expect_invalid(good + "trailing garbage");
  // A zlib (not gzip) stream is a different encoding.
  expect_invalid("\x78\x9c\xcb\x48\xcd\xc9\xc9\x07\x00\x06\x2c\x02\x15"s);
}

}  // namespace
}  // namespace coral::rpc
