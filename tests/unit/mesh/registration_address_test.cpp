// Registration addresses: a known answer (computed apart, with Python's
// hashlib.blake2s), one address per key, always in fe80::/64.

#include "mesh/registration_address.h"

#include <gtest/gtest.h>

#include <set>

#include "base/address.h"

namespace coral::mesh {
namespace {

crypto::PublicKey key_of(std::uint8_t first) {
  crypto::KeyBytes bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(first + i);
  return crypto::PublicKey(bytes);
}

TEST(RegistrationAddress, KnownAnswers) {
  // blake2s(b"coral registration address v1" + key).digest()[:8]
  EXPECT_EQ(registration_address(key_of(0)), "fe80::e080:d4cd:6aa8:fea");
  crypto::KeyBytes ones{};
  ones.fill(0xff);
  EXPECT_EQ(registration_address(crypto::PublicKey(ones)), "fe80::365d:106e:baec:be63");
}

TEST(RegistrationAddress, DiffersBetweenKeysAndIsLinkLocal) {
  std::set<std::string> seen;
  for (int i = 0; i < 64; ++i) {
    const crypto::PublicKey key = crypto::SecretKey::generate().public_key();
    const std::string address = registration_address(key);
    EXPECT_EQ(registration_address(key), address) << "stable";
    EXPECT_TRUE(is_registration_address(address)) << address;
    const auto bytes = base::parse_ipv6(address);
    ASSERT_TRUE(bytes);
    EXPECT_EQ((*bytes)[0], 0xfe);
    EXPECT_EQ((*bytes)[1] & 0xc0, 0x80) << "fe80::/10";
    EXPECT_EQ(base::format_ipv6(*bytes), address) << "canonical text";
    seen.insert(address);
  }
  EXPECT_EQ(seen.size(), 64U);
  EXPECT_NE(registration_address(key_of(0)), registration_address(key_of(1)));
}

TEST(RegistrationAddress, RecognizesOnlyFe80Slash64) {
  EXPECT_TRUE(is_registration_address("fe80::1"));
  EXPECT_TRUE(is_registration_address("FE80::e080:d4cd:6aa8:fea"));
  EXPECT_TRUE(is_registration_address("fe80:0:0:0:ffff:ffff:ffff:ffff"));
  EXPECT_FALSE(is_registration_address("fe80:0:0:1::1")) << "link-local, not the /64";
  EXPECT_FALSE(is_registration_address("fe81::1"));
  EXPECT_FALSE(is_registration_address("fd42::1"));
  EXPECT_FALSE(is_registration_address("10.42.0.1"));
  EXPECT_FALSE(is_registration_address("fe80::1%wg0"));
  EXPECT_FALSE(is_registration_address("[fe80::1]"));
  EXPECT_FALSE(is_registration_address(""));
}

}  // namespace
}  // namespace coral::mesh
