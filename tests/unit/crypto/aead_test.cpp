#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coral::crypto {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes from_hex(std::string_view hex) {
  Bytes bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return bytes;
}

template <std::size_t N>
std::array<std::uint8_t, N> array_from_hex(std::string_view hex) {
  const Bytes bytes = from_hex(hex);
  std::array<std::uint8_t, N> out{};
  std::copy_n(bytes.begin(), N, out.begin());
  return out;
}

Bytes text(std::string_view s) { return {s.begin(), s.end()}; }

// RFC 8439 section 2.8.2 and draft-irtf-cfrg-xchacha-03 appendix A.3.1 share
// key, AAD and plaintext.
const KeyBytes kRfcKey = array_from_hex<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
const Bytes kRfcAad = from_hex("50515253c0c1c2c3c4c5c6c7");
const Bytes kRfcPlaintext = text(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be "
    "it.");
const Bytes kRfc8439Sealed = from_hex(
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905"
    "d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691");

// With WireGuard's nonce for counter 0x0807060504030201 (nonce
// 000000000102030405060708) under another key, from Python's
// cryptography 48 (ChaCha20Poly1305), which the one-shot (libsodium) and
// the context (OpenSSL) must both match. The key is RFC 8439 A.5's.
const KeyBytes kWgKey = array_from_hex<32>("1c9240a5eb55d38af333888604f6b5f0473917c1402b80099dca5cbc207075c0");
constexpr std::uint64_t kWgCounter = 0x0807060504030201ULL;
const Bytes kWgSealed = from_hex(
    "61af9619629b5fe123d030e198fc44f15a9f5cb37041f4cff1406645c77580a45138e05e231b16befe9ec6476a4467f3bfa3a3317f010a46"
    "dee43b75335594cd322d8e466d4593808881b50ba24484c440b0022a078c22ac3ebcdcf4fc2ec7459181e92bf5a2b861d69939022c244335"
    "624a3fa25bae35839b3f4fb9ac7a9de6dca6");
// Empty plaintext and AAD, counter 5: a keepalive's tag.
const Bytes kKeepaliveSealed = from_hex("19e710622a87dd8ae9060b1588b2304e");

TEST(Aead, WireGuardNonceIsFourZeroBytesThenLittleEndianCounter) {
  const AeadNonce nonce = wireguard_nonce(kWgCounter);
  EXPECT_EQ(Bytes(nonce.begin(), nonce.end()), from_hex("000000000102030405060708"));
}

TEST(ChaCha20Poly1305, Rfc8439Section282) {
  const AeadNonce nonce = array_from_hex<12>("070000004041424344454647");
  ChaCha20Poly1305 aead(kRfcKey);
  Bytes sealed(kRfcPlaintext.size() + kAeadTagBytes);
  aead.seal(nonce, kRfcPlaintext, kRfcAad, sealed);
  EXPECT_EQ(sealed, kRfc8439Sealed);
  Bytes opened(kRfcPlaintext.size());
  ASSERT_TRUE(aead.open(nonce, kRfc8439Sealed, kRfcAad, opened));
  EXPECT_EQ(opened, kRfcPlaintext);
}

TEST(ChaCha20Poly1305, WireGuardCounterNonceContextAndOneShotAgree) {
  ChaCha20Poly1305 aead(kWgKey);
  Bytes sealed(kRfcPlaintext.size() + kAeadTagBytes);
  aead.seal(kWgCounter, kRfcPlaintext, kRfcAad, sealed);
  EXPECT_EQ(sealed, kWgSealed);
  Bytes one_shot(sealed.size());
  chacha20poly1305_seal(kWgKey, kWgCounter, kRfcPlaintext, kRfcAad, one_shot);
  EXPECT_EQ(one_shot, kWgSealed);

  Bytes opened(kRfcPlaintext.size());
  ASSERT_TRUE(aead.open(kWgCounter, kWgSealed, kRfcAad, opened));
  EXPECT_EQ(opened, kRfcPlaintext);
  Bytes opened_once(kRfcPlaintext.size());
  ASSERT_TRUE(chacha20poly1305_open(kWgKey, kWgCounter, kWgSealed, kRfcAad, opened_once));
  EXPECT_EQ(opened_once, kRfcPlaintext);
}

TEST(ChaCha20Poly1305, EmptyPlaintextIsJustTheTag) {
  ChaCha20Poly1305 aead(kWgKey);
  Bytes sealed(kAeadTagBytes);
  aead.seal(5, {}, {}, sealed);
  EXPECT_EQ(sealed, kKeepaliveSealed);
  Bytes one_shot(kAeadTagBytes);
  chacha20poly1305_seal(kWgKey, 5, {}, {}, one_shot);
  EXPECT_EQ(one_shot, kKeepaliveSealed);
  EXPECT_TRUE(aead.open(5, kKeepaliveSealed, {}, {}));
  EXPECT_TRUE(chacha20poly1305_open(kWgKey, 5, kKeepaliveSealed, {}, {}));
  EXPECT_FALSE(aead.open(6, kKeepaliveSealed, {}, {}));
}

TEST(ChaCha20Poly1305, AnyChangeFailsTheTagAndZeroesTheOutput) {
  ChaCha20Poly1305 aead(kWgKey);
  Bytes opened(kRfcPlaintext.size(), 0xAA);
  for (std::size_t i = 0; i < kWgSealed.size(); i += 7) {
    Bytes tampered = kWgSealed;
    tampered[i] ^= 0x01;
    std::fill(opened.begin(), opened.end(), 0xAA);
    EXPECT_FALSE(aead.open(kWgCounter, tampered, kRfcAad, opened)) << "byte " << i;
    EXPECT_EQ(opened, Bytes(opened.size(), 0)) << "byte " << i;
    EXPECT_FALSE(chacha20poly1305_open(kWgKey, kWgCounter, tampered, kRfcAad, opened)) << "byte " << i;
  }
  Bytes aad = kRfcAad;
  aad.back() ^= 0x80;
  EXPECT_FALSE(aead.open(kWgCounter, kWgSealed, aad, opened));
  EXPECT_FALSE(aead.open(kWgCounter, kWgSealed, {}, opened));
  EXPECT_FALSE(aead.open(kWgCounter + 1, kWgSealed, kRfcAad, opened));
  KeyBytes other_key = kWgKey;
  other_key[31] ^= 1;
  ChaCha20Poly1305 other(other_key);
  EXPECT_FALSE(other.open(kWgCounter, kWgSealed, kRfcAad, opened));
  // The context still works after failures.
  ASSERT_TRUE(aead.open(kWgCounter, kWgSealed, kRfcAad, opened));
  EXPECT_EQ(opened, kRfcPlaintext);
}

TEST(ChaCha20Poly1305, ShorterThanATagIsRejected) {
  ChaCha20Poly1305 aead(kWgKey);
  const Bytes short_input(15, 0);
  EXPECT_FALSE(aead.open(0, short_input, {}, {}));
  EXPECT_FALSE(chacha20poly1305_open(kWgKey, 0, short_input, {}, {}));
  EXPECT_FALSE(xchacha20poly1305_open(kWgKey, XAeadNonce{}, short_input, {}, {}));
}

TEST(ChaCha20Poly1305, InPlaceSealAndOpen) {
  ChaCha20Poly1305 aead(kWgKey);
  // A packet buffer: plaintext, then room for the tag.
  Bytes buffer = kRfcPlaintext;
  buffer.resize(kRfcPlaintext.size() + kAeadTagBytes);
  const std::span<std::uint8_t> all(buffer);
  aead.seal(kWgCounter, all.first(kRfcPlaintext.size()), kRfcAad, all);
  EXPECT_EQ(buffer, kWgSealed);
  ASSERT_TRUE(aead.open(kWgCounter, all, kRfcAad, all.first(kRfcPlaintext.size())));
  EXPECT_EQ(Bytes(buffer.begin(), buffer.begin() + static_cast<std::ptrdiff_t>(kRfcPlaintext.size())),
            kRfcPlaintext);

  Bytes once = kRfcPlaintext;
  once.resize(buffer.size());
  const std::span<std::uint8_t> once_all(once);
  chacha20poly1305_seal(kWgKey, kWgCounter, once_all.first(kRfcPlaintext.size()), kRfcAad, once_all);
  EXPECT_EQ(once, kWgSealed);
  ASSERT_TRUE(chacha20poly1305_open(kWgKey, kWgCounter, once_all, kRfcAad, once_all.first(kRfcPlaintext.size())));
  EXPECT_TRUE(std::equal(kRfcPlaintext.begin(), kRfcPlaintext.end(), once.begin()));
}

TEST(ChaCha20Poly1305, SameCounterSameOutputAndSealOpenInterleave) {
  ChaCha20Poly1305 aead(kWgKey);
  const Bytes payload(1420, 0x5A);
  Bytes first(payload.size() + kAeadTagBytes);
  Bytes second(first.size());
  Bytes other_counter(first.size());
  aead.seal(7, payload, {}, first);
  Bytes opened(payload.size());
  ASSERT_TRUE(aead.open(7, first, {}, opened));  // direction switches back and forth
  aead.seal(7, payload, {}, second);
  aead.seal(8, payload, {}, other_counter);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other_counter);
  EXPECT_EQ(opened, payload);
}

TEST(ChaCha20Poly1305, MovedContextKeepsItsKey) {
  ChaCha20Poly1305 original(kWgKey);
  ChaCha20Poly1305 moved(std::move(original));
  Bytes sealed(kAeadTagBytes);
  moved.seal(5, {}, {}, sealed);
  EXPECT_EQ(sealed, kKeepaliveSealed);
  ChaCha20Poly1305 assigned(kRfcKey);
  assigned = std::move(moved);
  assigned.seal(5, {}, {}, sealed);
  EXPECT_EQ(sealed, kKeepaliveSealed);
  EXPECT_DEATH(original.seal(5, {}, {}, sealed), "");  // NOLINT(bugprone-use-after-move)
}

TEST(ChaCha20Poly1305, WrongOutputSizeAborts) {
  ChaCha20Poly1305 aead(kWgKey);
  Bytes too_small(kRfcPlaintext.size() + kAeadTagBytes - 1);
  EXPECT_DEATH(aead.seal(0, kRfcPlaintext, {}, too_small), "");
  EXPECT_DEATH(chacha20poly1305_seal(kWgKey, 0, kRfcPlaintext, {}, too_small), "");
}

TEST(XChaCha20Poly1305, DraftAppendixA31) {
  const XAeadNonce nonce = array_from_hex<24>("404142434445464748494a4b4c4d4e4f5051525354555657");
  const Bytes expected = from_hex(
      "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c2"
      "16cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c6"
      "8b13b52ec0875924c1c7987947deafd8780acf49");
  Bytes sealed(kRfcPlaintext.size() + kAeadTagBytes);
  xchacha20poly1305_seal(kRfcKey, nonce, kRfcPlaintext, kRfcAad, sealed);
  EXPECT_EQ(sealed, expected);
  Bytes opened(kRfcPlaintext.size());
  ASSERT_TRUE(xchacha20poly1305_open(kRfcKey, nonce, expected, kRfcAad, opened));
  EXPECT_EQ(opened, kRfcPlaintext);

  Bytes tampered = expected;
  tampered[3] ^= 4;
  EXPECT_FALSE(xchacha20poly1305_open(kRfcKey, nonce, tampered, kRfcAad, opened));
  EXPECT_EQ(opened, Bytes(opened.size(), 0));
  XAeadNonce other_nonce = nonce;
  other_nonce[23] ^= 1;
  EXPECT_FALSE(xchacha20poly1305_open(kRfcKey, other_nonce, expected, kRfcAad, opened));
}

}  // namespace
}  // namespace coral::crypto
