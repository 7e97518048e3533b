#pragma once
// mac1, mac2 and cookie replies: WireGuard's defence against handshake
// floods (WireGuard paper, section 5.4.4 and 5.4.7).
//
//   mac1 = MAC(HASH("mac1----" || responder's static public), msg[..mac1])
//   mac2 = MAC(cookie, msg[..mac2])           (zeros when no cookie is held)
//   cookie = MAC(secret, source address)      (secret: random, 2 minutes)
//   reply = XAEAD(HASH("cookie--" || responder's static public), random
//                 24-byte nonce, cookie, AAD = mac1 of the message answered)
// where MAC is keyed BLAKE2s with a 16-byte output.
//
// Both work on serialized initiations (148 bytes) and responses (92 bytes):
// mac1 and mac2 are their last 32 bytes (messages.h). The responder side
// (CookieChecker, one per device identity) verifies MACs and makes cookie
// replies; the sending side (CookieGenerator, one per peer) adds MACs to
// what it sends and takes in the peer's cookie replies.
//
// Source addresses are opaque bytes to these classes (the caller's choice,
// e.g. the IP address bytes then the port): the cookie only has to be the
// same for the same source, and only its maker checks it.
//
// Times are wireguard::Time, passed in. Not thread-safe.

#include <array>
#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string_view>

#include "crypto/keys.h"
#include "wireguard/constants.h"
#include "wireguard/messages.h"

namespace coral::wireguard {

// How long a cookie secret (responder) and a received cookie (sender) stay
// good: the paper's 120 s.
inline constexpr Duration kCookieLifetime = std::chrono::seconds(120);
inline constexpr std::size_t kCookieBytes = 16;

// What the responder does with a handshake message, from its MACs.
enum class MacVerdict : std::uint8_t {
  // mac1 is wrong (or the message is not an initiation or response): drop
  // it silently.
  invalid_mac1,
  // mac1 is right but, under load, mac2 is missing or wrong: answer with a
  // cookie reply and do not process the message.
  cookie_required,
  // Process the message.
  valid,
};
std::string_view to_string(MacVerdict verdict);

// The responder side: one per device identity.
class CookieChecker {
 public:
  explicit CookieChecker(const crypto::PublicKey& local_public);
  // When the device's key changes (the secret is kept: cookies are not
  // bound to the key).
  void set_local_public(const crypto::PublicKey& local_public);

  // Whether `message` (a serialized initiation or response) carries the
  // right mac1 for our public key. Constant-time comparison. False for
  // other sizes.
  bool check_mac1(std::span<const std::uint8_t> message) const;
  // Whether its mac2 is right for a cookie we would give `source` now.
  // False when no secret was made yet or it is older than 120 s (a new one
  // is only made by create_reply), and for other sizes.
  bool check_mac2(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source, Time now) const;
  // mac1, then (when `under_load`) mac2.
  MacVerdict verify(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source, Time now,
                    bool under_load) const;

  // The cookie reply to `message` (a serialized initiation or response
  // from `source`; the caller checked its mac1): addressed to its sender
  // index, encrypted with its mac1 as AAD, nonce from crypto::random_bytes.
  // Makes a new secret first when there is none or it is 120 s old. Aborts
  // if `message` is not 148 or 92 bytes (the caller parsed it).
  CookieReply create_reply(std::span<const std::uint8_t> message, std::span<const std::uint8_t> source, Time now);

 private:
  std::array<std::uint8_t, kCookieBytes> cookie_for(std::span<const std::uint8_t> source) const;

  crypto::KeyBytes mac1_key_{};
  crypto::KeyBytes cookie_key_{};
  // The random secret cookies are made with; wiped on destruction.
  crypto::SecretKey secret_;
  std::optional<Time> secret_made_;
};

enum class CookieError : std::uint8_t {
  // We have sent no initiation or response since the last accepted reply,
  // so there is nothing this reply could answer.
  unexpected_reply,
  // The reply does not decrypt with our last mac1: forged, stale or not
  // for us.
  decryption_failed,
};
std::string_view to_string(CookieError error);

// The sending side: one per peer, keyed to the peer's static public key.
class CookieGenerator {
 public:
  explicit CookieGenerator(const crypto::PublicKey& remote_static);

  // Fills in mac1 and mac2 of `message` (a serialized initiation or
  // response, about to be sent), in place: mac2 from the cookie when one
  // younger than 120 s is held, zeros otherwise. Remembers mac1 for the
  // reply it may draw. Aborts unless `message` is 148 or 92 bytes.
  void add_macs(std::span<std::uint8_t> message, Time now);

  // A cookie reply from the peer (the device routed it here by its
  // receiver index): decrypts it with the last mac1 we sent as AAD and
  // keeps the cookie, dated `now`. One reply per message sent: later ones
  // are unexpected_reply until add_macs() runs again.
  std::expected<void, CookieError> consume_reply(const CookieReply& reply, Time now);

  // Whether a cookie younger than 120 s is held.
  bool has_cookie(Time now) const;

 private:
  crypto::KeyBytes mac1_key_{};
  crypto::KeyBytes cookie_key_{};
  std::optional<Mac> last_mac1_;
  // The cookie is a secret shared with the peer: wiped (SecretKey holds 32
  // bytes; the cookie is the first 16).
  crypto::SecretKey cookie_;
  std::optional<Time> cookie_received_;
};

}  // namespace coral::wireguard
