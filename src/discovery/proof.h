#pragma once
// Proof of possession for RegisterColony: a colony shows that it holds the
// private key of the WireGuard public key it registers, so that nobody can
// register a mesh id with another colony's key (docs/discovery.md, "Proof
// of possession"). Pure functions, bytes in and out; the service supplies
// the clock and the discovery service's static key.
//
// One round trip:
//  1. GetRegistrationChallenge(mesh_id, pubkey) returns a challenge and the
//     discovery service's static X25519 public key D. The challenge is
//     stateless: version, issue time, a random nonce and a tag (keyed
//     BLAKE2s under a key derived from D's private key) over them and the
//     (mesh_id, pubkey) it is for. Any replica holding D's private key can
//     check it; nothing is stored.
//  2. RegisterColony carries the challenge and
//       proof = HMAC-BLAKE2s(K, transcript)
//       K     = HMAC-BLAKE2s(X25519(colony private key, D), "coral-discovery proof key v1")
//     where the transcript covers D, the challenge and every registered field
//     (mesh_id, pubkey, endpoints, mesh addresses, connect port, metadata
//     sorted by key), each length-prefixed. Discovery computes the same K as
//     X25519(D's private key, colony public key).
//
// Replay: a challenge is accepted for kChallengeLifetime after it was
// issued. Within that window a captured request can be sent again, which
// re-registers exactly what the colony registered (the proof covers every
// field), and so can extend that lease by at most the window.

#include <array>
#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "base/clock.h"
#include "crypto/keys.h"

namespace coral::discovery::v1 {
class RegisterColonyRequest;
}

namespace coral::discovery {

// How long a challenge is accepted after it was issued.
inline constexpr std::chrono::seconds kChallengeLifetime{60};
// How far in the future an issue time may be (replicas' clocks differ).
inline constexpr std::chrono::seconds kChallengeClockSkew{5};
inline constexpr std::size_t kChallengeBytes = 41;  // version, ms, nonce, tag
inline constexpr std::size_t kProofBytes = 32;

// Why a proof is refused. Each value is one check of verify_registration.
enum class ProofError {
  missing,                // neither challenge nor proof was sent
  malformed_challenge,    // wrong size or version
  forged_challenge,       // tag wrong: not issued by this key, or for another mesh_id/pubkey
  expired_challenge,      // issued more than kChallengeLifetime ago
  future_challenge,       // issued more than kChallengeClockSkew in the future
  malformed_proof,        // not kProofBytes
  low_order_key,          // the colony's public key gives an all-zero X25519 result
  wrong_proof,            // the MAC does not match: the caller does not hold the private key
};
std::string_view to_string(ProofError error);

// The stateless challenge for registering `mesh_id` with `pubkey` (raw 32
// bytes), issued at `now`.
std::string issue_challenge(const crypto::SecretKey& discovery_key, base::Clock::time_point now,
                            std::string_view mesh_id, const crypto::PublicKey& pubkey);

// The proof a colony puts in request.proof, for request as it is (its
// challenge field included, its proof field ignored). nullopt when
// `discovery_pubkey` is a low-order point.
std::optional<std::array<std::uint8_t, kProofBytes>> registration_proof(const crypto::SecretKey& colony_key,
                                                                        const crypto::PublicKey& discovery_pubkey,
                                                                        const v1::RegisterColonyRequest& request);

// Checks request.challenge and request.proof against the registration's
// fields. request.wireguard_pubkey must already be valid (validation.h).
std::expected<void, ProofError> verify_registration(const crypto::SecretKey& discovery_key,
                                                    base::Clock::time_point now,
                                                    const v1::RegisterColonyRequest& request);

}  // namespace coral::discovery
