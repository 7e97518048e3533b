#include "crypto/aead.h"

#include <openssl/evp.h>
#include <sodium.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include "crypto/sodium.h"

namespace coral::crypto {
namespace {

// OpenSSL failures here mean no memory or a broken library; nothing can go
// on without the cipher.
void check(int ok) {
  if (ok != 1) {
    std::fputs("coral: OpenSSL ChaCha20-Poly1305 failed\n", stderr);
    std::abort();
  }
}

// EVP takes int lengths: feed larger inputs in pieces.
constexpr std::size_t kMaxChunk = 1U << 30;

void evp_update(EVP_CIPHER_CTX* ctx, std::span<const std::uint8_t> in, std::uint8_t* out) {
  while (!in.empty()) {
    const std::size_t take = std::min(in.size(), kMaxChunk);
    int written = 0;
    check(EVP_CipherUpdate(ctx, out, &written, in.data(), static_cast<int>(take)));
    in = in.subspan(take);
    if (out != nullptr) out += written;
  }
}

// A wrong output size is the caller's bug, never the peer's.
void check_out_size(std::span<std::uint8_t> out, std::size_t size) {
  if (out.size() != size) std::abort();
}

}  // namespace

AeadNonce wireguard_nonce(std::uint64_t counter) {
  AeadNonce nonce{};
  for (std::size_t i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
  return nonce;
}

ChaCha20Poly1305::ChaCha20Poly1305(const KeyBytes& key) : ctx_(EVP_CIPHER_CTX_new()) {
  if (ctx_ == nullptr) std::abort();
  check(EVP_CipherInit_ex(ctx_, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr, 1));
}

ChaCha20Poly1305::ChaCha20Poly1305(ChaCha20Poly1305&& other) noexcept : ctx_(std::exchange(other.ctx_, nullptr)) {}

ChaCha20Poly1305& ChaCha20Poly1305::operator=(ChaCha20Poly1305&& other) noexcept {
  if (this != &other) {
    EVP_CIPHER_CTX_free(ctx_);
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

// EVP_CIPHER_CTX_free cleanses the key schedule (OPENSSL_clear_free).
ChaCha20Poly1305::~ChaCha20Poly1305() { EVP_CIPHER_CTX_free(ctx_); }

void ChaCha20Poly1305::seal(std::uint64_t counter, std::span<const std::uint8_t> plaintext,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  seal(wireguard_nonce(counter), plaintext, aad, out);
}

bool ChaCha20Poly1305::open(std::uint64_t counter, std::span<const std::uint8_t> sealed,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  return open(wireguard_nonce(counter), sealed, aad, out);
}

void ChaCha20Poly1305::seal(const AeadNonce& nonce, std::span<const std::uint8_t> plaintext,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  if (ctx_ == nullptr) std::abort();  // moved from
  check_out_size(out, plaintext.size() + kAeadTagBytes);
  // Only the nonce changes: the key schedule set in the constructor stays.
  check(EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), 1));
  evp_update(ctx_, aad, nullptr);
  evp_update(ctx_, plaintext, out.data());
  int written = 0;
  check(EVP_CipherFinal_ex(ctx_, out.data() + plaintext.size(), &written));
  check(EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagBytes),
                            out.data() + plaintext.size()));
}

bool ChaCha20Poly1305::open(const AeadNonce& nonce, std::span<const std::uint8_t> sealed,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  if (ctx_ == nullptr) std::abort();  // moved from
  if (sealed.size() < kAeadTagBytes) {
    std::fill(out.begin(), out.end(), 0);
    return false;
  }
  const std::size_t text_size = sealed.size() - kAeadTagBytes;
  check_out_size(out, text_size);
  std::array<std::uint8_t, kAeadTagBytes> tag{};
  std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(text_size), kAeadTagBytes, tag.begin());
  check(EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), 0));
  check(EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagBytes), tag.data()));
  evp_update(ctx_, aad, nullptr);
  evp_update(ctx_, sealed.first(text_size), out.data());
  int written = 0;
  if (EVP_CipherFinal_ex(ctx_, out.data() + text_size, &written) != 1) {
    // The plaintext was written before the tag was checked.
    OPENSSL_cleanse(out.data(), out.size());
    return false;
  }
  return true;
}

void chacha20poly1305_seal(const KeyBytes& key, std::uint64_t counter, std::span<const std::uint8_t> plaintext,
                           std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  check_out_size(out, plaintext.size() + kAeadTagBytes);
  ensure_sodium();
  const AeadNonce nonce = wireguard_nonce(counter);
  unsigned long long written = 0;
  crypto_aead_chacha20poly1305_ietf_encrypt(out.data(), &written, plaintext.data(), plaintext.size(), aad.data(),
                                            aad.size(), nullptr, nonce.data(), key.data());
}

bool chacha20poly1305_open(const KeyBytes& key, std::uint64_t counter, std::span<const std::uint8_t> sealed,
                           std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  if (sealed.size() < kAeadTagBytes) {
    std::fill(out.begin(), out.end(), 0);
    return false;
  }
  check_out_size(out, sealed.size() - kAeadTagBytes);
  ensure_sodium();
  const AeadNonce nonce = wireguard_nonce(counter);
  unsigned long long written = 0;
  // libsodium checks the tag before it decrypts: `out` is untouched on
  // failure, and zeroed here anyway to keep the contract simple.
  if (crypto_aead_chacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, sealed.data(), sealed.size(),
                                                aad.data(), aad.size(), nonce.data(), key.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    return false;
  }
  return true;
}

void xchacha20poly1305_seal(const KeyBytes& key, const XAeadNonce& nonce, std::span<const std::uint8_t> plaintext,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  check_out_size(out, plaintext.size() + kAeadTagBytes);
  ensure_sodium();
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(out.data(), &written, plaintext.data(), plaintext.size(), aad.data(),
                                             aad.size(), nullptr, nonce.data(), key.data());
}

bool xchacha20poly1305_open(const KeyBytes& key, const XAeadNonce& nonce, std::span<const std::uint8_t> sealed,
                            std::span<const std::uint8_t> aad, std::span<std::uint8_t> out) {
  if (sealed.size() < kAeadTagBytes) {
    std::fill(out.begin(), out.end(), 0);
    return false;
  }
  check_out_size(out, sealed.size() - kAeadTagBytes);
  ensure_sodium();
  unsigned long long written = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(out.data(), &written, nullptr, sealed.data(), sealed.size(),
                                                 aad.data(), aad.size(), nonce.data(), key.data()) != 0) {
    sodium_memzero(out.data(), out.size());
    return false;
  }
  return true;
}

}  // namespace coral::crypto
