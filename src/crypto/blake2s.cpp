#include "crypto/blake2s.h"

#include <sodium.h>

#include <algorithm>
#include <bit>
#include <cstdlib>

namespace coral::crypto {
namespace {

// RFC 7693 section 2.6: the SHA-256 initial values.
constexpr std::array<std::uint32_t, 8> kIv = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                              0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};

// RFC 7693 section 2.7: the message word permutations of the 10 rounds.
constexpr std::uint8_t kSigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

std::uint32_t load_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}

void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}

// RFC 7693 section 3.1, with BLAKE2s's rotations (16, 12, 8, 7).
inline void mix(std::uint32_t v[16], int a, int b, int c, int d, std::uint32_t x, std::uint32_t y) {
  v[a] = v[a] + v[b] + x;
  v[d] = std::rotr(v[d] ^ v[a], 16);
  v[c] = v[c] + v[d];
  v[b] = std::rotr(v[b] ^ v[c], 12);
  v[a] = v[a] + v[b] + y;
  v[d] = std::rotr(v[d] ^ v[a], 8);
  v[c] = v[c] + v[d];
  v[b] = std::rotr(v[b] ^ v[c], 7);
}

}  // namespace

Blake2s::Blake2s(std::size_t out_bytes, std::span<const std::uint8_t> key) : h_(kIv), out_bytes_(out_bytes) {
  if (out_bytes == 0 || out_bytes > kBlake2sMaxOutBytes || key.size() > kBlake2sMaxKeyBytes) std::abort();
  // Parameter block word 0: digest length, key length, fanout 1, depth 1.
  h_[0] ^= 0x01010000U ^ (static_cast<std::uint32_t>(key.size()) << 8) ^ static_cast<std::uint32_t>(out_bytes);
  if (!key.empty()) {
    // The key, zero-padded, is the first block (RFC 7693 section 3.3).
    std::copy(key.begin(), key.end(), block_.begin());
    block_used_ = kBlake2sBlockBytes;
  }
}

Blake2s::~Blake2s() {
  sodium_memzero(h_.data(), sizeof(h_));
  sodium_memzero(block_.data(), block_.size());
}

void Blake2s::update(std::span<const std::uint8_t> data) {
  if (finished_) std::abort();
  while (!data.empty()) {
    if (block_used_ == kBlake2sBlockBytes) {
      // More input follows, so this full block is not the last one.
      counter_ += kBlake2sBlockBytes;
      compress(false);
      block_used_ = 0;
    }
    const std::size_t take = std::min(kBlake2sBlockBytes - block_used_, data.size());
    std::copy_n(data.begin(), take, block_.begin() + static_cast<std::ptrdiff_t>(block_used_));
    block_used_ += take;
    data = data.subspan(take);
  }
}

void Blake2s::finish(std::span<std::uint8_t> out) {
  if (finished_ || out.size() != out_bytes_) std::abort();
  counter_ += block_used_;
  std::fill(block_.begin() + static_cast<std::ptrdiff_t>(block_used_), block_.end(), 0);
  compress(true);
  std::uint8_t digest[32];
  for (std::size_t i = 0; i < 8; ++i) store_le32(digest + 4 * i, h_[i]);
  std::copy_n(digest, out_bytes_, out.begin());
  sodium_memzero(digest, sizeof(digest));
  sodium_memzero(h_.data(), sizeof(h_));
  sodium_memzero(block_.data(), block_.size());
  finished_ = true;
}

void Blake2s::compress(bool last) {
  std::uint32_t m[16];
  for (std::size_t i = 0; i < 16; ++i) m[i] = load_le32(block_.data() + 4 * i);
  std::uint32_t v[16];
  for (std::size_t i = 0; i < 8; ++i) {
    v[i] = h_[i];
    v[i + 8] = kIv[i];
  }
  v[12] ^= static_cast<std::uint32_t>(counter_);
  v[13] ^= static_cast<std::uint32_t>(counter_ >> 32);
  if (last) v[14] = ~v[14];
  for (const auto& s : kSigma) {
    mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
    mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
    mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
    mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
    mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
    mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
    mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
    mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
  }
  for (std::size_t i = 0; i < 8; ++i) h_[i] ^= v[i] ^ v[i + 8];
  // The message words may be key material (the first block of a keyed hash).
  sodium_memzero(m, sizeof(m));
  sodium_memzero(v, sizeof(v));
}

void blake2s(std::span<std::uint8_t> out, std::span<const std::uint8_t> data, std::span<const std::uint8_t> key) {
  Blake2s hash(out.size(), key);
  hash.update(data);
  hash.finish(out);
}

Blake2sDigest blake2s_256(std::span<const std::uint8_t> data) {
  Blake2sDigest digest{};
  blake2s(digest, data);
  return digest;
}

HmacBlake2s::HmacBlake2s(std::span<const std::uint8_t> key) {
  std::array<std::uint8_t, kBlake2sBlockBytes> pad{};
  if (key.size() > kBlake2sBlockBytes) {
    blake2s(std::span(pad).first(kBlake2sMaxOutBytes), key);
  } else {
    std::copy(key.begin(), key.end(), pad.begin());
  }
  for (std::uint8_t& byte : pad) byte ^= 0x36;
  inner_.update(pad);
  // 0x36 ^ 0x5c turns the inner pad into the outer one.
  for (std::uint8_t& byte : pad) byte ^= 0x36 ^ 0x5c;
  outer_.update(pad);
  sodium_memzero(pad.data(), pad.size());
}

void HmacBlake2s::update(std::span<const std::uint8_t> data) { inner_.update(data); }

Blake2sDigest HmacBlake2s::finish() {
  Blake2sDigest digest{};
  inner_.finish(digest);
  outer_.update(digest);
  outer_.finish(digest);
  return digest;
}

Blake2sDigest hmac_blake2s(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  HmacBlake2s mac(key);
  mac.update(data);
  return mac.finish();
}

}  // namespace coral::crypto
