#pragma once
// WireGuard keys and colony secrets, over libsodium.
//
// Keys are what `wg genkey | wg pubkey` make: a private key is 32 random
// bytes clamped for Curve25519 (RFC 7748 section 5: clear bits 0-2 and 255,
// set bit 254), its public key is X25519(private, 9), and both are written
// in standard base64 with padding, 44 characters. A colony secret is 32
// random bytes in unpadded base64url, 43 characters.
//
// Secrets live in SecretKey, which wipes its bytes (sodium_memzero) when it
// is destroyed or moved from. Text copies of secrets (to_base64(), a colony
// secret in a std::string) are the caller's to wipe, with wipe() below.
//
// Every function here initializes libsodium on first use (thread-safe);
// a libsodium that cannot initialize (no source of randomness) aborts.

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace coral::crypto {

inline constexpr std::size_t kKeyBytes = 32;
// Base64 of 32 bytes: 43 characters and one '='.
inline constexpr std::size_t kKeyBase64Chars = 44;
// A generated colony secret: 32 bytes, unpadded base64url.
inline constexpr std::size_t kColonySecretBytes = 32;
inline constexpr std::size_t kColonySecretChars = 43;

using KeyBytes = std::array<std::uint8_t, kKeyBytes>;

// Fills `out` with bytes from libsodium's CSPRNG (getrandom on Linux).
void random_bytes(std::span<std::uint8_t> out);

// Overwrites the bytes of `text` with zeros (sodium_memzero), in place; the
// size does not change. For text copies of secrets.
void wipe(std::string& text);

// Overwrites `bytes` with zeros (sodium_memzero): for secrets in buffers.
void wipe(std::span<std::uint8_t> bytes);

// BLAKE2b-256 of `data` (libsodium's generic hash, no key).
std::array<std::uint8_t, 32> blake2b_256(std::string_view data);

// True when both hold the same bytes, in time that depends on neither
// content nor which of them is longer: both are hashed (BLAKE2b-256) and the
// digests compared with sodium_memcmp. For colony secrets and other text
// that an attacker may guess at.
bool constant_time_equal(std::string_view a, std::string_view b);

// True when `a` and `b` hold the same bytes, in time that depends only on
// their sizes (sodium_memcmp); false when the sizes differ. For MACs and
// tags, whose size is public.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b);

// A WireGuard public key (or any Curve25519 point): not secret.
class PublicKey {
 public:
  // All zeros: the value of a key that was never set (no valid private key
  // has it as its public key).
  PublicKey() = default;
  explicit PublicKey(const KeyBytes& bytes) : bytes_(bytes) {}

  // 44 characters of standard base64, '=' padded, that decode to 32 bytes,
  // in canonical form (one spelling per key). Errors do not repeat the
  // input, so that callers can prefix the field: "must be 32 bytes in
  // base64 (44 characters), got 43 characters".
  static std::expected<PublicKey, std::string> from_base64(std::string_view text);
  std::string to_base64() const;

  const KeyBytes& bytes() const { return bytes_; }
  bool is_zero() const;

  bool operator==(const PublicKey&) const = default;

 private:
  KeyBytes bytes_{};
};

// A secret 32-byte key (a WireGuard private key), wiped when destroyed.
// Copies are allowed (each is wiped in turn); a moved-from key is zero.
// Comparison is constant-time.
class SecretKey {
 public:
  // All zeros (see is_zero()).
  SecretKey() = default;
  explicit SecretKey(const KeyBytes& bytes) : bytes_(bytes) {}
  SecretKey(const SecretKey& other) = default;
  SecretKey& operator=(const SecretKey& other) = default;
  SecretKey(SecretKey&& other) noexcept;
  SecretKey& operator=(SecretKey&& other) noexcept;
  ~SecretKey();

  // A fresh WireGuard private key: 32 random bytes, clamped (as `wg genkey`).
  static SecretKey generate();
  // The same rules as PublicKey::from_base64. Any 32 bytes are accepted,
  // clamped or not (as `wg` does: clamping happens when the key is used).
  // Errors never contain the input; the decoded copy is wiped.
  static std::expected<SecretKey, std::string> from_base64(std::string_view text);
  // The caller owns (and should wipe()) the returned text.
  std::string to_base64() const;

  // X25519(clamp(key), 9), exactly what `wg pubkey` prints for this key.
  PublicKey public_key() const;

  const KeyBytes& bytes() const { return bytes_; }
  bool is_zero() const;

  friend bool operator==(const SecretKey& a, const SecretKey& b);

 private:
  KeyBytes bytes_{};
};

// Clamps a Curve25519 scalar in place (RFC 7748 decodeScalar25519).
void clamp(KeyBytes& key);

// X25519(private_key, public_key) (RFC 7748; the scalar is clamped), the DH
// of WireGuard's handshake, as a wiped secret. nullopt when the result is
// all zeros: `public_key` is a low-order point, and the "shared" secret
// would be known to anyone.
std::optional<SecretKey> x25519(const SecretKey& private_key, const PublicKey& public_key);

// A new colony secret: 32 random bytes, unpadded base64url (43 characters of
// A-Z a-z 0-9 - _). The caller owns (and should wipe()) the text.
std::string generate_colony_secret();

}  // namespace coral::crypto
