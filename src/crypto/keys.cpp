#include "crypto/keys.h"

#include <sodium.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "base/base64.h"
#include "crypto/sodium.h"

namespace coral::crypto {
namespace {

bool all_zero(const KeyBytes& bytes) { return sodium_is_zero(bytes.data(), bytes.size()) == 1; }

// The shared rules of PublicKey and SecretKey parsing. The decoded bytes go
// straight into `out`; the intermediate string is wiped.
std::optional<std::string> decode_key(std::string_view text, KeyBytes& out) {
  constexpr std::string_view kRule = "must be 32 bytes in base64 (44 characters ending in '=')";
  if (text.empty()) return std::string(kRule) + ", got an empty value";
  if (text.size() != kKeyBase64Chars) {
    return std::string(kRule) + ", got " + std::to_string(text.size()) + " characters";
  }
  std::optional<std::string> decoded = base::base64_decode(text);
  if (!decoded) return std::string(kRule) + ", got characters that are not base64";
  std::optional<std::string> error;
  if (decoded->size() != kKeyBytes) {
    error = std::string(kRule) + ", got " + std::to_string(decoded->size()) + " bytes";
  } else {
    std::copy(decoded->begin(), decoded->end(), reinterpret_cast<char*>(out.data()));
    // One spelling per key: the last character before '=' carries two bits
    // that must be zero, and keys are compared and looked up as text.
    std::string canonical = base::base64_encode(*decoded);
    if (canonical != text) error = std::string(kRule) + ", in canonical form (the last character is off)";
    wipe(canonical);
  }
  wipe(*decoded);
  return error;
}

std::string encode_key(const KeyBytes& bytes) {
  return base::base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

}  // namespace

void random_bytes(std::span<std::uint8_t> out) {
  ensure_sodium();
  randombytes_buf(out.data(), out.size());
}

void wipe(std::string& text) {
  if (!text.empty()) sodium_memzero(text.data(), text.size());
}

void wipe(std::span<std::uint8_t> bytes) {
  if (!bytes.empty()) sodium_memzero(bytes.data(), bytes.size());
}

std::array<std::uint8_t, 32> blake2b_256(std::string_view data) {
  static_assert(crypto_generichash_BYTES == 32);
  ensure_sodium();
  std::array<std::uint8_t, 32> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     nullptr, 0);
  return digest;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  auto digest_a = blake2b_256(a);
  auto digest_b = blake2b_256(b);
  return sodium_memcmp(digest_a.data(), digest_b.data(), digest_a.size()) == 0;
}

bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

void clamp(KeyBytes& key) {
  key[0] &= 248;
  key[31] &= 127;
  key[31] |= 64;
}

std::expected<PublicKey, std::string> PublicKey::from_base64(std::string_view text) {
  KeyBytes bytes{};
  if (std::optional<std::string> error = decode_key(text, bytes)) return std::unexpected(std::move(*error));
  return PublicKey(bytes);
}

std::string PublicKey::to_base64() const { return encode_key(bytes_); }

bool PublicKey::is_zero() const { return all_zero(bytes_); }

SecretKey::SecretKey(SecretKey&& other) noexcept : bytes_(other.bytes_) {
  sodium_memzero(other.bytes_.data(), other.bytes_.size());
}

SecretKey& SecretKey::operator=(SecretKey&& other) noexcept {
  if (this != &other) {
    bytes_ = other.bytes_;
    sodium_memzero(other.bytes_.data(), other.bytes_.size());
  }
  return *this;
}

SecretKey::~SecretKey() { sodium_memzero(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::generate() {
  SecretKey key;
  random_bytes(key.bytes_);
  clamp(key.bytes_);
  return key;
}

std::expected<SecretKey, std::string> SecretKey::from_base64(std::string_view text) {
  SecretKey key;
  if (std::optional<std::string> error = decode_key(text, key.bytes_)) return std::unexpected(std::move(*error));
  return key;
}

std::string SecretKey::to_base64() const { return encode_key(bytes_); }

PublicKey SecretKey::public_key() const {
  ensure_sodium();
  // crypto_scalarmult_curve25519_base clamps its own copy of the scalar;
  // clamping here too keeps this independent of that detail.
  SecretKey clamped = *this;
  clamp(clamped.bytes_);
  KeyBytes point{};
  // It fails only when the result is the all-zero point, which no clamped
  // scalar times the base point gives (the base point has prime order and
  // clamped scalars are not multiples of it).
  if (crypto_scalarmult_curve25519_base(point.data(), clamped.bytes_.data()) != 0) std::abort();
  return PublicKey(point);
}

bool SecretKey::is_zero() const { return all_zero(bytes_); }

bool operator==(const SecretKey& a, const SecretKey& b) {
  return sodium_memcmp(a.bytes_.data(), b.bytes_.data(), a.bytes_.size()) == 0;
}

std::optional<SecretKey> x25519(const SecretKey& private_key, const PublicKey& public_key) {
  ensure_sodium();
  KeyBytes shared{};
  // crypto_scalarmult clamps its copy of the scalar, and fails when the
  // result is the all-zero point.
  if (crypto_scalarmult(shared.data(), private_key.bytes().data(), public_key.bytes().data()) != 0) {
    sodium_memzero(shared.data(), shared.size());
    return std::nullopt;
  }
  SecretKey result(shared);
  sodium_memzero(shared.data(), shared.size());
  return result;
}

std::string generate_colony_secret() {
  std::array<std::uint8_t, kColonySecretBytes> bytes{};
  random_bytes(bytes);
  std::string secret = base::base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()),
                                           base::Base64Alphabet::url, /*pad=*/false);
  sodium_memzero(bytes.data(), bytes.size());
  return secret;
}

}  // namespace coral::crypto
