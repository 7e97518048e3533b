#include "crypto/keys.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "base/base64.h"
#include "base/text.h"

namespace coral::crypto {
namespace {

KeyBytes from_hex(std::string_view hex) {
  KeyBytes bytes{};
  EXPECT_TRUE(base::from_hex(hex, bytes)) << hex;
  return bytes;
}

struct KnownAnswer {
  const char* private_base64;
  const char* public_base64;
};

// Public keys as `wg pubkey` (wireguard-tools 1.0.20210914) prints them for
// these private keys. 1-2: RFC 7748 section 6.1 (Alice's and Bob's keys;
// the public keys are the RFC's). 3: RFC 7748 section 5.2's first scalar
// (a546e36b...), not clamped: wg clamps it before use. 4-5: from `wg genkey`.
constexpr KnownAnswer kWgVectors[] = {
    {"dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=", "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="},
    {"XasIfmJKikt54X+Lg4AO5m87sSkmGLb9HC+LJ/+I4Os=", "3p7bfXt9wbTTW2HC7OQ1Nz+DQ8hbeGdNrfx+FG+IK08="},
    {"pUbja/BSfJ07FhVLgkZe3WIUTArB/FoYUGoiRLpEmsQ=", "HJ/Yj0VgbZMqgMcYJK4VHRXXPnfeOOjgAIUuYU+ucBk="},
    {"2NKtpDYgoqa5HyXrB4561cxfy8p88hOjTBJYf/1aBnE=", "WBTxtll6r2uTMv5MkDy447sWVaCbd1XfvFsjkNyKiEA="},
    {"uEgiY29JSFQ7bxHwBlTBHI4wzFe/z9DB5JF2VSH8Z3g=", "hGvMnJk73thR3JhHPuSE5MxmzgDfk5bJnujDKsqBajM="},
};

TEST(Keys, PublicKeyIsWhatWgComputes) {
  for (const KnownAnswer& vector : kWgVectors) {
    const auto secret = SecretKey::from_base64(vector.private_base64);
    ASSERT_TRUE(secret) << secret.error();
    EXPECT_EQ(secret->public_key().to_base64(), vector.public_base64) << vector.private_base64;
    EXPECT_EQ(secret->to_base64(), vector.private_base64);
  }
}

TEST(Keys, Rfc7748AliceAndBobInHex) {
  const SecretKey alice(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  EXPECT_EQ(alice.public_key().bytes(), from_hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"));
  const SecretKey bob(from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  EXPECT_EQ(bob.public_key().bytes(), from_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"));
}

// RFC 7748 section 6.1: both sides compute the same shared secret.
TEST(Keys, X25519Rfc7748SharedSecret) {
  const SecretKey alice(from_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"));
  const SecretKey bob(from_hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"));
  const KeyBytes shared = from_hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  const auto at_alice = x25519(alice, bob.public_key());
  const auto at_bob = x25519(bob, alice.public_key());
  ASSERT_TRUE(at_alice);
  ASSERT_TRUE(at_bob);
  EXPECT_EQ(at_alice->bytes(), shared);
  EXPECT_EQ(at_bob->bytes(), shared);
}

// Low-order points give the all-zero secret, which anyone could compute.
TEST(Keys, X25519RejectsLowOrderPoints) {
  const SecretKey key = SecretKey::generate();
  EXPECT_FALSE(x25519(key, PublicKey()));  // 0
  EXPECT_FALSE(x25519(key, PublicKey(from_hex("0100000000000000000000000000000000000000000000000000000000000000"))));
  // A point of order 8 (libsodium's blocklist, from cr.yp.to/ecdh.html).
  EXPECT_FALSE(x25519(key, PublicKey(from_hex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"))));
  EXPECT_TRUE(x25519(key, SecretKey::generate().public_key()));
}

TEST(Keys, WipeSpanZeroesBytes) {
  std::array<std::uint8_t, 5> bytes = {1, 2, 3, 4, 5};
  wipe(bytes);
  EXPECT_EQ(bytes, (std::array<std::uint8_t, 5>{}));
}

TEST(Keys, GeneratedKeysAreClampedFreshAndPairUp) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const SecretKey key = SecretKey::generate();
    const KeyBytes& bytes = key.bytes();
    EXPECT_EQ(bytes[0] & 7, 0);
    EXPECT_EQ(bytes[31] & 128, 0);
    EXPECT_EQ(bytes[31] & 64, 64);
    const std::string text = key.to_base64();
    EXPECT_EQ(text.size(), kKeyBase64Chars);
    EXPECT_EQ(text.back(), '=');
    EXPECT_TRUE(seen.insert(text).second) << "repeated key";
    // The text form parses back to the same pair.
    const auto parsed = SecretKey::from_base64(text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(*parsed, key);
    EXPECT_EQ(parsed->public_key(), key.public_key());
    EXPECT_FALSE(key.public_key().is_zero());
  }
}

TEST(Keys, ClampingDoesNotChangeThePublicKey) {
  KeyBytes raw = from_hex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
  const PublicKey unclamped = SecretKey(raw).public_key();
  clamp(raw);
  EXPECT_EQ(raw[0], 0xa0);
  EXPECT_EQ(raw[31], 0x44);
  EXPECT_EQ(SecretKey(raw).public_key(), unclamped);
}

TEST(Keys, ParseErrorsSayWhatIsWrongWithoutTheInput) {
  struct Case {
    std::string text;
    std::string expected;
  };
  const std::string valid = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=";
  const Case cases[] = {
      {"", "got an empty value"},
      {valid.substr(0, 43), "got 43 characters"},
      {valid + "A", "got 45 characters"},
      {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm!=", "not base64"},
      {"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=", "not base64"},  // base64url
      {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA", "got 33 bytes"},
      {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==", "got 31 bytes"},
      {"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", "canonical form"},
  };
  for (const Case& c : cases) {
    const auto as_public = PublicKey::from_base64(c.text);
    ASSERT_FALSE(as_public) << c.text;
    EXPECT_NE(as_public.error().find(c.expected), std::string::npos) << c.text << ": " << as_public.error();
    EXPECT_NE(as_public.error().find("must be 32 bytes in base64"), std::string::npos);
    const auto as_secret = SecretKey::from_base64(c.text);
    ASSERT_FALSE(as_secret) << c.text;
    EXPECT_EQ(as_secret.error(), as_public.error());
    if (!c.text.empty()) {
      EXPECT_EQ(as_secret.error().find(c.text), std::string::npos) << "echoes the secret";
    }
  }
  EXPECT_EQ(PublicKey::from_base64(valid)->to_base64(), valid);
}

TEST(Keys, SecretKeyIsZeroAfterMoveAndComparesByValue) {
  SecretKey key = SecretKey::generate();
  const SecretKey copy = key;
  EXPECT_EQ(copy, key);
  SecretKey moved = std::move(key);
  EXPECT_EQ(moved, copy);
  EXPECT_TRUE(key.is_zero());  // NOLINT(bugprone-use-after-move): moved-from keys are wiped
  EXPECT_FALSE(moved == key);
  SecretKey assigned;
  EXPECT_TRUE(assigned.is_zero());
  assigned = std::move(moved);
  EXPECT_EQ(assigned, copy);
  EXPECT_TRUE(moved.is_zero());  // NOLINT(bugprone-use-after-move)
}

TEST(Keys, ColonySecretsAreUnpaddedBase64UrlOf32RandomBytes) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    const std::string secret = generate_colony_secret();
    EXPECT_EQ(secret.size(), kColonySecretChars);
    EXPECT_EQ(secret.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
              std::string::npos)
        << secret;
    const auto decoded = base::base64_decode(secret, base::Base64Alphabet::url);
    ASSERT_TRUE(decoded);
    EXPECT_EQ(decoded->size(), kColonySecretBytes);
    EXPECT_TRUE(seen.insert(secret).second);
  }
}

TEST(Keys, ConstantTimeEqual) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("s3cret-value", "s3cret-value"));
  EXPECT_FALSE(constant_time_equal("s3cret-value", "s3cret-valuE"));
  EXPECT_FALSE(constant_time_equal("s3cret-value", "s3cret-value "));
  EXPECT_FALSE(constant_time_equal("", "x"));
  const std::string with_nul("a\0b", 3);
  EXPECT_FALSE(constant_time_equal(with_nul, "a"));
  EXPECT_TRUE(constant_time_equal(with_nul, std::string("a\0b", 3)));
}

TEST(Keys, ConstantTimeEqualBytes) {
  const std::array<std::uint8_t, 4> a = {1, 2, 3, 4};
  std::array<std::uint8_t, 4> b = a;
  EXPECT_TRUE(constant_time_equal(std::span<const std::uint8_t>(a), b));
  b[3] = 5;
  EXPECT_FALSE(constant_time_equal(std::span<const std::uint8_t>(a), b));
  EXPECT_FALSE(constant_time_equal(std::span<const std::uint8_t>(a), std::span<const std::uint8_t>(a).first(3)));
  EXPECT_TRUE(constant_time_equal(std::span<const std::uint8_t>(), std::span<const std::uint8_t>()));
}

TEST(Keys, WipeZeroesTextInPlace) {
  std::string secret = generate_colony_secret();
  wipe(secret);
  EXPECT_EQ(secret, std::string(kColonySecretChars, '\0'));
  std::string empty;
  wipe(empty);
  EXPECT_TRUE(empty.empty());
}

TEST(Keys, RandomBytesFillTheBuffer) {
  std::array<std::uint8_t, 64> a{};
  std::array<std::uint8_t, 64> b{};
  random_bytes(a);
  random_bytes(b);
  EXPECT_NE(a, b);
  EXPECT_NE(a, (std::array<std::uint8_t, 64>{}));
}

// BLAKE2b-256 known answers (b2sum -l 256, and RFC 7693's "abc" input).
TEST(Keys, Blake2b256KnownAnswers) {
  EXPECT_EQ(base::hex(blake2b_256("")), "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8");
  EXPECT_EQ(base::hex(blake2b_256("abc")), "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
  // Every byte counts, NUL included.
  EXPECT_NE(blake2b_256(std::string("abc\0", 4)), blake2b_256("abc"));
}

}  // namespace
}  // namespace coral::crypto
