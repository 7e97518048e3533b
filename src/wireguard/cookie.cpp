#include "wireguard/cookie.h"

#include <algorithm>
#include <cstdlib>

#include "crypto/aead.h"
#include "crypto/blake2s.h"

namespace coral::wireguard {
namespace {

using Bytes = std::span<const std::uint8_t>;

// HASH(label || public key): the mac1 key ("mac1----") and the cookie
// reply key ("cookie--").
crypto::KeyBytes labelled_key(std::string_view label, const crypto::PublicKey& key) {
  crypto::Blake2s hash;
  hash.update(Bytes(reinterpret_cast<const std::uint8_t*>(label.data()), label.size()));
  hash.update(key.bytes());
  crypto::KeyBytes out{};
  hash.finish(out);
  return out;
}

constexpr std::string_view kMac1Label = "mac1----";
constexpr std::string_view kCookieLabel = "cookie--";

bool is_handshake_size(std::size_t size) { return size == kInitiationBytes || size == kResponseBytes; }

// MAC(key, data): keyed BLAKE2s with a 16-byte output.
Mac mac(Bytes key, Bytes data) {
  Mac out{};
  crypto::blake2s(out, data, key);
  return out;
}

bool expired(Time made, Time now) { return now - made >= kCookieLifetime; }

}  // namespace

std::string_view to_string(MacVerdict verdict) {
  switch (verdict) {
    case MacVerdict::invalid_mac1:
      return "invalid_mac1";
    case MacVerdict::cookie_required:
      return "cookie_required";
    case MacVerdict::valid:
      return "valid";
  }
  return "unknown";
}

std::string_view to_string(CookieError error) {
  switch (error) {
    case CookieError::unexpected_reply:
      return "unexpected_reply";
    case CookieError::decryption_failed:
      return "decryption_failed";
  }
  return "unknown";
}

CookieChecker::CookieChecker(const crypto::PublicKey& local_public) { set_local_public(local_public); }

void CookieChecker::set_local_public(const crypto::PublicKey& local_public) {
  mac1_key_ = labelled_key(kMac1Label, local_public);
  cookie_key_ = labelled_key(kCookieLabel, local_public);
}

bool CookieChecker::check_mac1(std::span<const std::uint8_t> message) const {
  if (!is_handshake_size(message.size())) return false;
  const std::size_t at = mac1_offset(message.size());
  const Mac expected = mac(mac1_key_, message.first(at));
  return crypto::constant_time_equal(expected, message.subspan(at, kMacBytes));
}

std::array<std::uint8_t, kCookieBytes> CookieChecker::cookie_for(std::span<const std::uint8_t> source) const {
  return mac(secret_.bytes(), source);
}

bool CookieChecker::check_mac2(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source,
                               Time now) const {
  if (!is_handshake_size(message.size())) return false;
  if (!secret_made_ || expired(*secret_made_, now)) return false;
  std::array<std::uint8_t, kCookieBytes> cookie = cookie_for(source);
  const std::size_t at = mac2_offset(message.size());
  const Mac expected = mac(cookie, message.first(at));
  crypto::wipe(cookie);
  return crypto::constant_time_equal(expected, message.subspan(at, kMacBytes));
}

MacVerdict CookieChecker::verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source,
                                 Time now, bool under_load) const {
  if (!check_mac1(message)) return MacVerdict::invalid_mac1;
  if (under_load && !check_mac2(message, source, now)) return MacVerdict::cookie_required;
  return MacVerdict::valid;
}

CookieReply CookieChecker::create_reply(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source,
                                        Time now) {
  if (!is_handshake_size(message.size())) std::abort();  // the caller parsed the message
  if (!secret_made_ || expired(*secret_made_, now)) {
    crypto::KeyBytes secret{};
    crypto::random_bytes(secret);
    secret_ = crypto::SecretKey(secret);
    crypto::wipe(secret);
    secret_made_ = now;
  }
  CookieReply reply;
  // Initiations and responses both carry their sender index at offset 4.
  reply.receiver_index = static_cast<std::uint32_t>(message[4]) | static_cast<std::uint32_t>(message[5]) << 8 |
                         static_cast<std::uint32_t>(message[6]) << 16 | static_cast<std::uint32_t>(message[7]) << 24;
  crypto::random_bytes(reply.nonce);
  std::array<std::uint8_t, kCookieBytes> cookie = cookie_for(source);
  crypto::xchacha20poly1305_seal(cookie_key_, reply.nonce, cookie,
                                 message.subspan(mac1_offset(message.size()), kMacBytes), reply.encrypted_cookie);
  crypto::wipe(cookie);
  return reply;
}

CookieGenerator::CookieGenerator(const crypto::PublicKey& remote_static)
    : mac1_key_(labelled_key(kMac1Label, remote_static)), cookie_key_(labelled_key(kCookieLabel, remote_static)) {}

bool CookieGenerator::has_cookie(Time now) const { return cookie_received_ && !expired(*cookie_received_, now); }

void CookieGenerator::add_macs(std::span<std::uint8_t> message, Time now) {
  if (!is_handshake_size(message.size())) std::abort();  // only handshake messages carry MACs
  const std::size_t at1 = mac1_offset(message.size());
  const std::size_t at2 = mac2_offset(message.size());
  const Mac mac1 = mac(mac1_key_, message.first(at1));
  std::copy(mac1.begin(), mac1.end(), message.begin() + static_cast<std::ptrdiff_t>(at1));
  last_mac1_ = mac1;
  Mac mac2{};
  if (has_cookie(now)) mac2 = mac(std::span(cookie_.bytes()).first(kCookieBytes), message.first(at2));
  std::copy(mac2.begin(), mac2.end(), message.begin() + static_cast<std::ptrdiff_t>(at2));
}

std::expected<void, CookieError> CookieGenerator::consume_reply(const CookieReply& reply, Time now) {
  if (!last_mac1_) return std::unexpected(CookieError::unexpected_reply);
  crypto::KeyBytes cookie{};
  if (!crypto::xchacha20poly1305_open(cookie_key_, reply.nonce, reply.encrypted_cookie, *last_mac1_,
                                      std::span(cookie).first(kCookieBytes))) {
    return std::unexpected(CookieError::decryption_failed);
  }
  cookie_ = crypto::SecretKey(cookie);
  crypto::wipe(cookie);
  cookie_received_ = now;
  // A reply answers one message: a replayed copy must not reset the date.
  last_mac1_.reset();
  return {};
}

}  // namespace coral::wireguard
