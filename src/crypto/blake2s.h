#pragma once
// BLAKE2s (RFC 7693) and HMAC-BLAKE2s (RFC 2104 over BLAKE2s-256), the hash
// and MAC of WireGuard's handshake, KDF and cookies.
//
// Written here rather than taken from OpenSSL: OpenSSL 3.0's BLAKE2s takes
// neither a key nor an output length through EVP, and WireGuard needs both
// (mac1/mac2 are keyed BLAKE2s with 16-byte output). Only handshakes use it,
// so a portable implementation is fast enough.
//
// Sizes outside the ranges below are programming errors and abort.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace coral::crypto {

inline constexpr std::size_t kBlake2sBlockBytes = 64;
inline constexpr std::size_t kBlake2sMaxOutBytes = 32;
inline constexpr std::size_t kBlake2sMaxKeyBytes = 32;

using Blake2sDigest = std::array<std::uint8_t, 32>;

// Incremental BLAKE2s with an optional key (0-32 bytes) and an output of
// 1-32 bytes. The state (which holds the key) is wiped by finish() and by
// the destructor. Copyable, so that a common prefix can be hashed once.
class Blake2s {
 public:
  // Aborts unless 1 <= out_bytes <= 32 and key.size() <= 32.
  explicit Blake2s(std::size_t out_bytes = kBlake2sMaxOutBytes, std::span<const std::uint8_t> key = {});
  Blake2s(const Blake2s&) = default;
  Blake2s& operator=(const Blake2s&) = default;
  ~Blake2s();

  void update(std::span<const std::uint8_t> data);
  // Writes the digest: out.size() must equal out_bytes. Afterwards the
  // object is spent: update() and finish() abort.
  void finish(std::span<std::uint8_t> out);

 private:
  void compress(bool last);

  std::array<std::uint32_t, 8> h_{};
  std::array<std::uint8_t, kBlake2sBlockBytes> block_{};
  // Bytes waiting in block_: the last block is compressed only by finish(),
  // because it must be flagged as last.
  std::size_t block_used_ = 0;
  // Bytes hashed so far (the counter t of RFC 7693), excluding block_.
  std::uint64_t counter_ = 0;
  std::size_t out_bytes_ = 0;
  bool finished_ = false;
};

// One-shot BLAKE2s: out.size() (1-32) is the output length.
void blake2s(std::span<std::uint8_t> out, std::span<const std::uint8_t> data, std::span<const std::uint8_t> key = {});
// Unkeyed BLAKE2s-256: WireGuard's HASH().
Blake2sDigest blake2s_256(std::span<const std::uint8_t> data);

// HMAC-BLAKE2s-256 (RFC 2104, 64-byte block; keys longer than a block are
// hashed first), incremental. The key pads are wiped as for Blake2s.
class HmacBlake2s {
 public:
  explicit HmacBlake2s(std::span<const std::uint8_t> key);
  void update(std::span<const std::uint8_t> data);
  // The object is spent afterwards.
  Blake2sDigest finish();

 private:
  Blake2s inner_;
  Blake2s outer_;
};

// One-shot HMAC-BLAKE2s-256: WireGuard's HMAC().
Blake2sDigest hmac_blake2s(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

}  // namespace coral::crypto
