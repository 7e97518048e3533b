#pragma once
// ChaCha20-Poly1305 (RFC 8439) and XChaCha20-Poly1305
// (draft-irtf-cfrg-xchacha), the AEADs of WireGuard.
//
// The data path seals and opens every packet with ChaCha20Poly1305, which
// keeps one OpenSSL EVP context per key (OpenSSL 3 is twice as fast as
// libsodium 1.0.18 here: DESIGN.md): the key is set once, each packet only
// sets the nonce. Handshakes use the one-shot functions (libsodium), cookie
// replies XChaCha20-Poly1305 (libsodium).
//
// Nonces: WireGuard's 96-bit nonce is 4 zero bytes then a 64-bit
// little-endian counter; the overloads that take a counter build it.
//
// Buffers: `out` of seal is plaintext.size() + 16 bytes (ciphertext, then
// the tag); `out` of open is sealed.size() - 16 bytes. In and out may be the
// same memory (in place: out.data() == in.data()) or disjoint; any other
// overlap is undefined. A wrong `out` size is a programming error and
// aborts. open returns false when `sealed` is shorter than a tag or the tag
// does not verify, and then zeroes `out` (no unauthenticated plaintext
// leaks to the caller).

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "crypto/keys.h"

// OpenSSL's EVP_CIPHER_CTX, without its headers.
struct evp_cipher_ctx_st;

namespace coral::crypto {

inline constexpr std::size_t kAeadTagBytes = 16;
inline constexpr std::size_t kAeadNonceBytes = 12;
inline constexpr std::size_t kXAeadNonceBytes = 24;

using AeadNonce = std::array<std::uint8_t, kAeadNonceBytes>;
using XAeadNonce = std::array<std::uint8_t, kXAeadNonceBytes>;

// WireGuard's nonce for `counter`: 4 zero bytes, then counter little-endian.
AeadNonce wireguard_nonce(std::uint64_t counter);

// ChaCha20-Poly1305 with one key, for many packets. Movable, not copyable;
// the EVP context (which holds the key schedule) is freed, and cleansed by
// OpenSSL, on destruction. A moved-from object may only be destroyed or
// assigned to. Not thread-safe: one object per thread or a lock.
class ChaCha20Poly1305 {
 public:
  explicit ChaCha20Poly1305(const KeyBytes& key);
  ChaCha20Poly1305(ChaCha20Poly1305&& other) noexcept;
  ChaCha20Poly1305& operator=(ChaCha20Poly1305&& other) noexcept;
  ChaCha20Poly1305(const ChaCha20Poly1305&) = delete;
  ChaCha20Poly1305& operator=(const ChaCha20Poly1305&) = delete;
  ~ChaCha20Poly1305();

  void seal(std::uint64_t counter, std::span<const std::uint8_t> plaintext, std::span<const std::uint8_t> aad,
            std::span<std::uint8_t> out);
  [[nodiscard]] bool open(std::uint64_t counter, std::span<const std::uint8_t> sealed,
                          std::span<const std::uint8_t> aad, std::span<std::uint8_t> out);

  // The same with any 96-bit nonce (RFC 8439's test vectors use others).
  void seal(const AeadNonce& nonce, std::span<const std::uint8_t> plaintext, std::span<const std::uint8_t> aad,
            std::span<std::uint8_t> out);
  [[nodiscard]] bool open(const AeadNonce& nonce, std::span<const std::uint8_t> sealed,
                          std::span<const std::uint8_t> aad, std::span<std::uint8_t> out);

 private:
  evp_cipher_ctx_st* ctx_ = nullptr;
};

// One-shot ChaCha20-Poly1305 with WireGuard's nonce (libsodium): for
// handshake messages, where a context per key would not pay off.
void chacha20poly1305_seal(const KeyBytes& key, std::uint64_t counter, std::span<const std::uint8_t> plaintext,
                           std::span<const std::uint8_t> aad, std::span<std::uint8_t> out);
[[nodiscard]] bool chacha20poly1305_open(const KeyBytes& key, std::uint64_t counter,
                                         std::span<const std::uint8_t> sealed, std::span<const std::uint8_t> aad,
                                         std::span<std::uint8_t> out);

// XChaCha20-Poly1305 (libsodium), for cookie replies.
void xchacha20poly1305_seal(const KeyBytes& key, const XAeadNonce& nonce, std::span<const std::uint8_t> plaintext,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out);
[[nodiscard]] bool xchacha20poly1305_open(const KeyBytes& key, const XAeadNonce& nonce,
                                          std::span<const std::uint8_t> sealed, std::span<const std::uint8_t> aad,
                                          std::span<std::uint8_t> out);

}  // namespace coral::crypto
