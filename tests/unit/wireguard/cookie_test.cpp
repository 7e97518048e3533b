#include "wireguard/cookie.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/text.h"
#include "crypto/aead.h"
#include "crypto/blake2s.h"

namespace coral::wireguard {
namespace {

using crypto::PublicKey;
using crypto::SecretKey;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

const Time kStart = Time() + 5000s;

// A serialized initiation with arbitrary contents and zero MACs.
std::array<std::uint8_t, kInitiationBytes> initiation_bytes(std::uint32_t sender_index, std::uint8_t fill = 0x33) {
  HandshakeInitiation m;
  m.sender_index = sender_index;
  m.ephemeral.fill(fill);
  m.encrypted_static.fill(static_cast<std::uint8_t>(fill + 1));
  m.encrypted_timestamp.fill(static_cast<std::uint8_t>(fill + 2));
  return serialize(m);
}

std::array<std::uint8_t, kResponseBytes> response_bytes(std::uint32_t sender_index) {
  HandshakeResponse m;
  m.sender_index = sender_index;
  m.receiver_index = 99;
  m.ephemeral.fill(0x44);
  return serialize(m);
}

const Bytes kSourceA = {127, 0, 0, 1, 0xca, 0x6c};  // 127.0.0.1:51820
const Bytes kSourceB = {127, 0, 0, 2, 0xca, 0x6c};

struct Fixture {
  SecretKey responder_key = SecretKey::generate();
  PublicKey responder = responder_key.public_key();
  CookieChecker checker{responder};
  CookieGenerator generator{responder};
};

// Computed with Python's hashlib: key = blake2s(b"mac1----" + public),
// mac1 = blake2s(message[:116], key=key, digest_size=16); mac2 likewise
// keyed with the cookie over message[:132].
TEST(Cookie, Mac1AndMac2KnownAnswers) {
  crypto::KeyBytes public_bytes{};
  for (std::size_t i = 0; i < 32; ++i) public_bytes[i] = static_cast<std::uint8_t>(5 * i + 1);
  const PublicKey responder(public_bytes);
  std::array<std::uint8_t, kInitiationBytes> message{};
  message[0] = 1;
  for (std::size_t i = 0; i < 144; ++i) message[4 + i] = static_cast<std::uint8_t>(i * 3 + 7);

  CookieGenerator generator(responder);
  generator.add_macs(message, kStart);
  EXPECT_EQ(base::hex(std::span(message).subspan(116, 16)), "7ea916cbe0cb886578e9ba0ce7bb11e7");
  EXPECT_EQ(base::hex(std::span(message).subspan(132, 16)), std::string(32, '0'));  // no cookie yet
  EXPECT_TRUE(CookieChecker(responder).check_mac1(message));

  // A cookie reply made by hand (not by CookieChecker): XChaCha20-Poly1305
  // with key HASH("cookie--" || public) and the mac1 as AAD.
  const std::string_view label = "cookie--";
  crypto::Blake2s hash;
  hash.update(std::span(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  hash.update(public_bytes);
  crypto::KeyBytes cookie_key{};
  hash.finish(cookie_key);
  std::array<std::uint8_t, 16> cookie{};
  for (std::size_t i = 0; i < 16; ++i) cookie[i] = static_cast<std::uint8_t>(0xa0 + i);
  CookieReply reply;
  reply.nonce.fill(0x42);
  crypto::xchacha20poly1305_seal(cookie_key, reply.nonce, cookie, std::span(message).subspan(116, 16),
                                 reply.encrypted_cookie);
  ASSERT_TRUE(generator.consume_reply(reply, kStart));

  generator.add_macs(message, kStart + 1s);
  EXPECT_EQ(base::hex(std::span(message).subspan(116, 16)), "7ea916cbe0cb886578e9ba0ce7bb11e7");
  EXPECT_EQ(base::hex(std::span(message).subspan(132, 16)), "d2801a17afc6d316ff53e0e355f58d5a");
}

TEST(Cookie, Mac1FromTheGeneratorVerifiesAtTheChecker) {
  Fixture f;
  auto initiation = initiation_bytes(7);
  f.generator.add_macs(initiation, kStart);
  EXPECT_TRUE(f.checker.check_mac1(initiation));
  EXPECT_EQ(f.checker.verify(initiation, kSourceA, kStart, false), MacVerdict::valid);
  EXPECT_EQ(f.checker.verify(initiation, kSourceA, kStart, true), MacVerdict::cookie_required);

  auto response = response_bytes(8);
  f.generator.add_macs(response, kStart);
  EXPECT_TRUE(f.checker.check_mac1(response));
}

TEST(Cookie, Mac1MismatchIsDetected) {
  Fixture f;
  auto initiation = initiation_bytes(7);
  f.generator.add_macs(initiation, kStart);
  // Any byte before mac2 changes mac1's verdict.
  for (std::size_t i = 0; i < mac2_offset(kInitiationBytes); ++i) {
    auto tampered = initiation;
    tampered[i] ^= 0x01;
    EXPECT_FALSE(f.checker.check_mac1(tampered)) << i;
    EXPECT_EQ(f.checker.verify(tampered, kSourceA, kStart, false), MacVerdict::invalid_mac1);
  }
  // A generator keyed to someone else's public key.
  CookieGenerator other(SecretKey::generate().public_key());
  auto for_other = initiation_bytes(7);
  other.add_macs(for_other, kStart);
  EXPECT_FALSE(f.checker.check_mac1(for_other));
  // Zero MACs, and messages of other sizes.
  EXPECT_FALSE(f.checker.check_mac1(initiation_bytes(7)));
  EXPECT_FALSE(f.checker.check_mac1(std::span(initiation).first(147)));
  EXPECT_FALSE(f.checker.check_mac1({}));
  EXPECT_FALSE(f.checker.check_mac2({}, kSourceA, kStart));
}

TEST(Cookie, RoundTripGivesAValidMac2) {
  Fixture f;
  auto initiation = initiation_bytes(0xabcdef01);
  f.generator.add_macs(initiation, kStart);
  ASSERT_EQ(f.checker.verify(initiation, kSourceA, kStart, true), MacVerdict::cookie_required);

  const CookieReply reply = f.checker.create_reply(initiation, kSourceA, kStart);
  EXPECT_EQ(reply.receiver_index, 0xabcdef01U);
  const auto parsed = parse_cookie_reply(serialize(reply));
  ASSERT_TRUE(parsed);
  ASSERT_TRUE(f.generator.consume_reply(*parsed, kStart + 10ms));
  EXPECT_TRUE(f.generator.has_cookie(kStart + 10ms));

  auto retry = initiation_bytes(0xabcdef02, 0x55);
  f.generator.add_macs(retry, kStart + 1s);
  EXPECT_TRUE(f.checker.check_mac2(retry, kSourceA, kStart + 1s));
  EXPECT_EQ(f.checker.verify(retry, kSourceA, kStart + 1s, true), MacVerdict::valid);
  // mac2 covers mac1 and everything before it.
  auto tampered = retry;
  tampered[20] ^= 1;
  EXPECT_FALSE(f.checker.check_mac2(tampered, kSourceA, kStart + 1s));
}

TEST(Cookie, Mac2IsOnlyValidForTheSameSource) {
  Fixture f;
  auto initiation = initiation_bytes(1);
  f.generator.add_macs(initiation, kStart);
  ASSERT_TRUE(f.generator.consume_reply(f.checker.create_reply(initiation, kSourceA, kStart), kStart));
  auto retry = initiation_bytes(2);
  f.generator.add_macs(retry, kStart);
  EXPECT_TRUE(f.checker.check_mac2(retry, kSourceA, kStart));
  EXPECT_FALSE(f.checker.check_mac2(retry, kSourceB, kStart));
  EXPECT_EQ(f.checker.verify(retry, kSourceB, kStart, true), MacVerdict::cookie_required);
  const Bytes other_port = {127, 0, 0, 1, 0xca, 0x6d};
  EXPECT_FALSE(f.checker.check_mac2(retry, other_port, kStart));
}

Mac mac2_of(std::span<const std::uint8_t> message) {
  Mac out{};
  std::copy_n(message.begin() + static_cast<std::ptrdiff_t>(mac2_offset(message.size())), kMacBytes, out.begin());
  return out;
}

TEST(Cookie, CookiesExpireAfter120Seconds) {
  Fixture f;
  auto initiation = initiation_bytes(1);
  f.generator.add_macs(initiation, kStart);
  ASSERT_TRUE(f.generator.consume_reply(f.checker.create_reply(initiation, kSourceA, kStart), kStart));

  // The sender uses its cookie until it is 120 s old.
  auto at_119 = initiation_bytes(2);
  f.generator.add_macs(at_119, kStart + 119s);
  EXPECT_NE(mac2_of(at_119), Mac{});
  EXPECT_TRUE(f.checker.check_mac2(at_119, kSourceA, kStart + 119s));
  auto at_120 = initiation_bytes(3);
  f.generator.add_macs(at_120, kStart + 120s);
  EXPECT_FALSE(f.generator.has_cookie(kStart + 120s));
  EXPECT_EQ(mac2_of(at_120), Mac{});

  // The responder's secret (made at kStart) is void at 120 s too.
  EXPECT_FALSE(f.checker.check_mac2(at_119, kSourceA, kStart + 120s));

  // The next reply makes a new secret: the old cookie stays worthless, the
  // new one works.
  f.generator.add_macs(at_120, kStart + 120s);
  ASSERT_TRUE(f.generator.consume_reply(f.checker.create_reply(at_120, kSourceA, kStart + 120s), kStart + 120s));
  auto fresh = initiation_bytes(4);
  f.generator.add_macs(fresh, kStart + 121s);
  EXPECT_TRUE(f.checker.check_mac2(fresh, kSourceA, kStart + 121s));
  EXPECT_FALSE(f.checker.check_mac2(at_119, kSourceA, kStart + 121s));
}

TEST(Cookie, SecretIsKeptWithinItsLifetime) {
  Fixture f;
  CookieGenerator second_peer(f.responder);
  auto m1 = initiation_bytes(1);
  f.generator.add_macs(m1, kStart);
  ASSERT_TRUE(f.generator.consume_reply(f.checker.create_reply(m1, kSourceA, kStart), kStart));
  // Another reply 100 s later, to the same source, gives the same cookie:
  // the first peer's mac2 still verifies.
  auto m2 = initiation_bytes(2);
  second_peer.add_macs(m2, kStart + 100s);
  ASSERT_TRUE(second_peer.consume_reply(f.checker.create_reply(m2, kSourceA, kStart + 100s), kStart + 100s));
  auto m3 = initiation_bytes(3);
  f.generator.add_macs(m3, kStart + 101s);
  EXPECT_TRUE(f.checker.check_mac2(m3, kSourceA, kStart + 101s));
}

TEST(Cookie, RepliesMustAnswerTheLastMessageSent) {
  Fixture f;
  auto m1 = initiation_bytes(1);
  const CookieReply early = f.checker.create_reply(m1, kSourceA, kStart);  // m1 has zero MACs here
  EXPECT_EQ(f.generator.consume_reply(early, kStart).error(), CookieError::unexpected_reply);

  f.generator.add_macs(m1, kStart);
  const CookieReply to_m1 = f.checker.create_reply(m1, kSourceA, kStart);
  auto m2 = response_bytes(2);
  f.generator.add_macs(m2, kStart);  // a newer message: the reply to m1 is stale
  EXPECT_EQ(f.generator.consume_reply(to_m1, kStart).error(), CookieError::decryption_failed);

  CookieReply to_m2 = f.checker.create_reply(m2, kSourceA, kStart);
  EXPECT_EQ(to_m2.receiver_index, 2U);
  CookieReply tampered = to_m2;
  tampered.encrypted_cookie[5] ^= 1;
  EXPECT_EQ(f.generator.consume_reply(tampered, kStart).error(), CookieError::decryption_failed);
  tampered = to_m2;
  tampered.nonce[0] ^= 1;
  EXPECT_EQ(f.generator.consume_reply(tampered, kStart).error(), CookieError::decryption_failed);
  EXPECT_FALSE(f.generator.has_cookie(kStart));
  ASSERT_TRUE(f.generator.consume_reply(to_m2, kStart));
  // One reply per message sent: a copy of it later does not renew the cookie.
  EXPECT_EQ(f.generator.consume_reply(to_m2, kStart + 100s).error(), CookieError::unexpected_reply);
  EXPECT_FALSE(f.generator.has_cookie(kStart + 120s));

  // A reply from a responder with another key does not decrypt.
  CookieChecker other(SecretKey::generate().public_key());
  auto m3 = initiation_bytes(3);
  f.generator.add_macs(m3, kStart);
  EXPECT_EQ(f.generator.consume_reply(other.create_reply(m3, kSourceA, kStart), kStart).error(),
            CookieError::decryption_failed);
}

TEST(Cookie, RepliesUseFreshNonces) {
  Fixture f;
  auto m = initiation_bytes(1);
  f.generator.add_macs(m, kStart);
  const CookieReply a = f.checker.create_reply(m, kSourceA, kStart);
  const CookieReply b = f.checker.create_reply(m, kSourceA, kStart);
  EXPECT_NE(a.nonce, b.nonce);
  EXPECT_NE(a.encrypted_cookie, b.encrypted_cookie);
}

TEST(Cookie, WrongSizesAreProgrammingErrors) {
  Fixture f;
  std::array<std::uint8_t, 100> odd{};
  EXPECT_DEATH(f.generator.add_macs(odd, kStart), "");
  EXPECT_DEATH(f.checker.create_reply(odd, kSourceA, kStart), "");
}

}  // namespace
}  // namespace coral::wireguard
