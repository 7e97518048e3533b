#pragma once
// The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (WireGuard
// paper, section 5.4.2-5.4.5), as pure functions of keys, messages and
// times. No sockets, no clocks, no threads, no locks: the device serializes
// calls on one Handshake.
//
// Who does what:
//   LocalIdentity      the device's static key pair, plus the one hash the
//                      responder can precompute from it.
//   open_initiation    responder, device level: decrypts an initiation's
//                      static key with the identity alone, so that the
//                      device can look the peer up by it.
//   Handshake          one per peer: remote static key, optional preshared
//                      key, the precomputed static-static DH, the newest
//                      accepted timestamp, and the handshake in progress.
//
//   initiator: create_initiation -> (send; response arrives) ->
//              consume_response -> derive_keys
//   responder: open_initiation -> (find peer) -> consume_initiation ->
//              create_response -> (send) -> derive_keys
//
// mac1/mac2 are not computed here: messages come out with zero MACs, and
// cookie.h adds and checks them on the serialized bytes.
//
// Every step checks its required state first and changes nothing until
// every check has passed: a bad message leaves the handshake as it was.
// Intermediate secrets (chaining key, hash, ephemeral key) live in wiped
// types and are wiped when a state is left.

#include <cstdint>
#include <expected>
#include <optional>
#include <string_view>
#include <variant>

#include "crypto/keys.h"
#include "wireguard/constants.h"
#include "wireguard/messages.h"
#include "wireguard/tai64n.h"

namespace coral::wireguard {

inline constexpr std::string_view kNoiseConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kNoiseIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";

enum class HandshakeError : std::uint8_t {
  // The step needs another state: a response with no initiation of ours
  // outstanding, a second response, a response before an initiation was
  // consumed, keys before the handshake completed.
  wrong_state,
  // The LocalIdentity passed in (or the one an OpenedInitiation was opened
  // with) is not the one this Handshake was set up with: the device's
  // private key changed without set_local_identity().
  identity_mismatch,
  // A Diffie-Hellman result was all zeros: a peer's static or ephemeral
  // key is a low-order point.
  invalid_public_key,
  // An AEAD tag did not verify: wrong keys, wrong preshared key, tampered
  // bytes, or a message meant for someone else.
  decryption_failed,
  // The opened initiation comes from another static key than this
  // handshake's peer (the device passed it to the wrong Handshake).
  wrong_peer,
  // The initiation's timestamp is not newer than the newest one accepted
  // from this peer: a replay (or an initiator whose clock went back).
  replayed_timestamp,
  // Less than the initiation rate (20 ms) after the last accepted
  // initiation from this peer.
  initiation_flood,
  // The response's receiver index is not the index of our outstanding
  // initiation.
  wrong_receiver_index,
};
std::string_view to_string(HandshakeError error);

// Named after what happened last (the kernel's noise.h states).
enum class HandshakeState : std::uint8_t {
  zeroed,
  initiation_created,
  initiation_consumed,
  response_created,
  response_consumed,
};
std::string_view to_string(HandshakeState state);

class OpenedInitiation;
class LocalIdentity;
std::expected<OpenedInitiation, HandshakeError> open_initiation(const LocalIdentity& local,
                                                                const HandshakeInitiation& message);

// The device's static key pair. Copyable; the private key is wiped with
// each copy.
class LocalIdentity {
 public:
  explicit LocalIdentity(crypto::SecretKey private_key);

  const crypto::SecretKey& private_key() const { return private_key_; }
  const crypto::PublicKey& public_key() const { return public_key_; }

 private:
  friend std::expected<OpenedInitiation, HandshakeError> open_initiation(const LocalIdentity&,
                                                                         const HandshakeInitiation&);

  crypto::SecretKey private_key_;
  crypto::PublicKey public_key_;
  // HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || our public key): where
  // the responder's hash starts.
  crypto::KeyBytes responder_hash_{};
};

// An initiation whose static key the identity decrypted (its timestamp is
// still sealed: only the peer's Handshake can open it, with the
// static-static DH). Move-only; its secrets are wiped on destruction.
class OpenedInitiation {
 public:
  OpenedInitiation(OpenedInitiation&&) = default;
  OpenedInitiation& operator=(OpenedInitiation&&) = default;
  OpenedInitiation(const OpenedInitiation&) = delete;
  OpenedInitiation& operator=(const OpenedInitiation&) = delete;

  // The initiator's static public key: which peer this is.
  const crypto::PublicKey& initiator_static() const { return initiator_static_; }
  // The initiator's index (the receiver index of our response).
  std::uint32_t sender_index() const { return sender_index_; }

 private:
  friend class Handshake;
  friend std::expected<OpenedInitiation, HandshakeError> open_initiation(const LocalIdentity&,
                                                                         const HandshakeInitiation&);
  OpenedInitiation() = default;

  crypto::PublicKey local_public_;
  crypto::PublicKey initiator_static_;
  crypto::PublicKey initiator_ephemeral_;
  std::uint32_t sender_index_ = 0;
  crypto::SecretKey chaining_key_;
  crypto::SecretKey hash_;
  std::array<std::uint8_t, 12 + 16> encrypted_timestamp_{};
};

// Responder, device level: the e, es and s steps of an initiation. Errors:
// invalid_public_key (ephemeral is a low-order point), decryption_failed
// (not for this identity, or tampered).
std::expected<OpenedInitiation, HandshakeError> open_initiation(const LocalIdentity& local,
                                                                const HandshakeInitiation& message);

// What a completed handshake gives the session layer. The initiator's send
// key is the responder's receive key and vice versa.
struct TransportKeys {
  crypto::SecretKey send_key;
  crypto::SecretKey receive_key;
  // Ours: the receiver index of the messages the peer sends us.
  std::uint32_t local_index = 0;
  // The peer's: the receiver index of the messages we send.
  std::uint32_t remote_index = 0;
  // Whether we sent the initiation (the responder must not send data
  // before it has received data under these keys: paper section 5.4.6).
  bool initiator = false;
};

// The handshake with one peer. Not thread-safe. Movable, not copyable (a
// copy would be a second holder of the same secrets).
//
// A step that starts a new handshake (create_initiation, and a successful
// consume_initiation) replaces the one in progress: the local_index() it
// had is then dead, and the device should drop it from its index table.
class Handshake {
 public:
  // `local` is used to precompute the static-static DH; every later step
  // checks that it is given the same identity. A preshared key of nullopt
  // is the all-zero key of the protocol (no preshared key).
  Handshake(const LocalIdentity& local, const crypto::PublicKey& remote_static,
            std::optional<crypto::SecretKey> preshared_key = std::nullopt);
  Handshake(Handshake&&) = default;
  Handshake& operator=(Handshake&&) = default;
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // After the device's private key changed: recomputes the static-static
  // DH and drops any handshake in progress (it was keyed to the old
  // identity). The newest timestamp is kept.
  void set_local_identity(const LocalIdentity& local);
  // Takes effect for handshakes started afterwards.
  void set_preshared_key(std::optional<crypto::SecretKey> preshared_key);

  const crypto::PublicKey& remote_static() const { return remote_static_; }
  HandshakeState state() const;
  // Our index in the handshake in progress: set by create_initiation and
  // create_response, nullopt in the other states.
  std::optional<std::uint32_t> local_index() const;
  // The newest initiation timestamp accepted from this peer (zeros before
  // the first).
  const Tai64n& latest_timestamp() const { return latest_timestamp_; }

  // Initiator: starts a new handshake (any handshake in progress is
  // dropped) and returns the initiation, MACs zero. `ephemeral` is the
  // ephemeral private key (fixed in tests; the overload without it draws
  // one from crypto::random_bytes). `local_index` is the sender index,
  // chosen by the device. Errors: identity_mismatch, invalid_public_key
  // (the peer's static key is a low-order point).
  std::expected<HandshakeInitiation, HandshakeError> create_initiation(const LocalIdentity& local,
                                                                       std::uint32_t local_index,
                                                                       const Tai64n& timestamp,
                                                                       const crypto::SecretKey& ephemeral);
  std::expected<HandshakeInitiation, HandshakeError> create_initiation(const LocalIdentity& local,
                                                                       std::uint32_t local_index,
                                                                       const Tai64n& timestamp);

  // Initiator: the response to our initiation (state initiation_created).
  // Errors: wrong_state, identity_mismatch, wrong_receiver_index,
  // invalid_public_key, decryption_failed. On success: response_consumed.
  std::expected<void, HandshakeError> consume_response(const LocalIdentity& local, const HandshakeResponse& message);

  // Responder: finishes an initiation opened by open_initiation() (any
  // state: a new initiation replaces a handshake in progress). Decrypts
  // the timestamp, which must be newer than latest_timestamp(), and
  // rejects initiations that come less than 20 ms after the last accepted
  // one (`now`: when this one arrived). Errors: identity_mismatch,
  // wrong_peer, invalid_public_key, decryption_failed, replayed_timestamp,
  // initiation_flood. On success: initiation_consumed, and the timestamp
  // becomes latest_timestamp().
  std::expected<void, HandshakeError> consume_initiation(const OpenedInitiation& initiation, Time now);

  // Responder: the response (state initiation_consumed), MACs zero.
  // `ephemeral` as for create_initiation. Errors: wrong_state,
  // invalid_public_key (the initiator's ephemeral or static key is a
  // low-order point). On success: response_created.
  std::expected<HandshakeResponse, HandshakeError> create_response(std::uint32_t local_index,
                                                                   const crypto::SecretKey& ephemeral);
  std::expected<HandshakeResponse, HandshakeError> create_response(std::uint32_t local_index);

  // Both sides, once the handshake completed (response_created or
  // response_consumed): the transport keys. The handshake is zeroed
  // afterwards (its secrets wiped). Error: wrong_state.
  std::expected<TransportKeys, HandshakeError> derive_keys();

  // Drops the handshake in progress (state zeroed, secrets wiped).
  void clear();

 private:
  struct InitiationCreated {
    crypto::SecretKey chaining_key;
    crypto::SecretKey hash;
    crypto::SecretKey ephemeral;
    std::uint32_t local_index = 0;
  };
  struct InitiationConsumed {
    crypto::SecretKey chaining_key;
    crypto::SecretKey hash;
    crypto::PublicKey remote_ephemeral;
    std::uint32_t remote_index = 0;
  };
  // response_created and response_consumed: all that is left is the
  // chaining key the transport keys come from.
  struct Completed {
    crypto::SecretKey chaining_key;
    std::uint32_t local_index = 0;
    std::uint32_t remote_index = 0;
    bool initiator = false;
  };
  using State = std::variant<std::monostate, InitiationCreated, InitiationConsumed, Completed>;

  crypto::PublicKey local_public_;
  crypto::PublicKey remote_static_;
  crypto::SecretKey preshared_key_;
  // DH(our static, their static); nullopt when their key is a low-order
  // point (then every handshake fails with invalid_public_key).
  std::optional<crypto::SecretKey> static_static_;
  // HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || their public key): where
  // the initiator's hash starts.
  crypto::KeyBytes initiator_hash_{};
  Tai64n latest_timestamp_{};
  std::optional<Time> last_initiation_consumed_;
  State state_;
};

}  // namespace coral::wireguard
