#include "discovery/proof.h"

#include <algorithm>
#include <span>
#include <utility>
#include <vector>

#include "base/base64.h"
#include "coral/discovery/v1/discovery.pb.h"
#include "crypto/blake2s.h"

namespace coral::discovery {
namespace {

constexpr std::uint8_t kChallengeVersion = 1;
constexpr std::size_t kNonceBytes = 16;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kTaggedBytes = kChallengeBytes - kTagBytes;  // version, ms, nonce
static_assert(1 + 8 + kNonceBytes + kTagBytes == kChallengeBytes);

constexpr std::string_view kChallengeKeyLabel = "coral-discovery challenge key v1";
constexpr std::string_view kProofKeyLabel = "coral-discovery proof key v1";
constexpr std::string_view kTranscriptLabel = "coral-discovery registration v1";

std::span<const std::uint8_t> bytes_of(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// Length-prefixed fields (u32 big endian), so that no two different
// registrations share a transcript.
class Transcript {
 public:
  void u32(std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes_.push_back(static_cast<std::uint8_t>(value >> shift));
  }
  void field(std::string_view text) {
    u32(static_cast<std::uint32_t>(text.size()));
    bytes_.insert(bytes_.end(), text.begin(), text.end());
  }
  void field(std::span<const std::uint8_t> data) {
    u32(static_cast<std::uint32_t>(data.size()));
    bytes_.insert(bytes_.end(), data.begin(), data.end());
  }
  std::span<const std::uint8_t> bytes() const { return bytes_; }

 private:
  std::vector<std::uint8_t> bytes_;
};

// The key of challenge tags, derived from the discovery's static key so
// that replicas need to share only that.
crypto::Blake2sDigest challenge_key(const crypto::SecretKey& discovery_key) {
  return crypto::hmac_blake2s(discovery_key.bytes(), bytes_of(kChallengeKeyLabel));
}

std::array<std::uint8_t, kTagBytes> challenge_tag(const crypto::SecretKey& discovery_key,
                                                  std::span<const std::uint8_t> tagged, std::string_view mesh_id,
                                                  const crypto::PublicKey& pubkey) {
  Transcript input;
  input.field(tagged);
  input.field(mesh_id);
  input.field(pubkey.bytes());
  crypto::Blake2sDigest key = challenge_key(discovery_key);
  std::array<std::uint8_t, kTagBytes> tag{};
  crypto::blake2s(tag, input.bytes(), key);
  crypto::wipe(key);
  return tag;
}

std::uint64_t unix_ms(base::Clock::time_point time) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(time.time_since_epoch()).count();
  return ms < 0 ? 0 : static_cast<std::uint64_t>(ms);
}

// Everything the proof covers, in a fixed order (metadata sorted by key).
Transcript registration_transcript(const crypto::PublicKey& discovery_pubkey, const crypto::PublicKey& colony_pubkey,
                                   const v1::RegisterColonyRequest& request) {
  Transcript t;
  t.field(kTranscriptLabel);
  t.field(discovery_pubkey.bytes());
  t.field(request.challenge());
  t.field(request.mesh_id());
  t.field(colony_pubkey.bytes());
  t.u32(static_cast<std::uint32_t>(request.public_endpoints_size()));
  for (const std::string& endpoint : request.public_endpoints()) t.field(endpoint);
  t.field(request.mesh_ipv4());
  t.field(request.mesh_ipv6());
  t.u32(request.connect_port());
  std::vector<std::pair<std::string_view, std::string_view>> metadata(request.metadata().begin(),
                                                                     request.metadata().end());
  std::sort(metadata.begin(), metadata.end());
  t.u32(static_cast<std::uint32_t>(metadata.size()));
  for (const auto& [key, value] : metadata) {
    t.field(key);
    t.field(value);
  }
  return t;
}

std::optional<crypto::Blake2sDigest> proof_from_dh(const crypto::SecretKey& own, const crypto::PublicKey& other,
                                                   const crypto::PublicKey& discovery_pubkey,
                                                   const crypto::PublicKey& colony_pubkey,
                                                   const v1::RegisterColonyRequest& request) {
  const std::optional<crypto::SecretKey> shared = crypto::x25519(own, other);
  if (!shared) return std::nullopt;
  crypto::Blake2sDigest key = crypto::hmac_blake2s(shared->bytes(), bytes_of(kProofKeyLabel));
  const Transcript transcript = registration_transcript(discovery_pubkey, colony_pubkey, request);
  const crypto::Blake2sDigest proof = crypto::hmac_blake2s(key, transcript.bytes());
  crypto::wipe(key);
  return proof;
}

std::optional<crypto::PublicKey> raw_public_key(std::string_view base64) {
  const auto decoded = base::base64_decode(base64);
  if (!decoded || decoded->size() != crypto::kKeyBytes) return std::nullopt;
  crypto::KeyBytes bytes{};
  std::copy(decoded->begin(), decoded->end(), bytes.begin());
  return crypto::PublicKey(bytes);
}

}  // namespace

std::string_view to_string(ProofError error) {
  switch (error) {
    case ProofError::missing: return "no proof of possession (challenge and proof are empty)";
    case ProofError::malformed_challenge: return "the challenge is not one this service issues";
    case ProofError::forged_challenge: return "the challenge was not issued by this service for this mesh_id and key";
    case ProofError::expired_challenge: return "the challenge has expired";
    case ProofError::future_challenge: return "the challenge was issued in the future (clocks of replicas differ?)";
    case ProofError::malformed_proof: return "the proof is not 32 bytes";
    case ProofError::low_order_key: return "the WireGuard public key is a low-order point";
    case ProofError::wrong_proof: return "the proof does not match: the caller does not hold the private key";
  }
  return "unknown proof error";
}

std::string issue_challenge(const crypto::SecretKey& discovery_key, base::Clock::time_point now,
                            std::string_view mesh_id, const crypto::PublicKey& pubkey) {
  std::array<std::uint8_t, kChallengeBytes> challenge{};
  challenge[0] = kChallengeVersion;
  const std::uint64_t ms = unix_ms(now);
  for (int i = 0; i < 8; ++i) challenge[1 + i] = static_cast<std::uint8_t>(ms >> (56 - 8 * i));
  crypto::random_bytes(std::span(challenge).subspan(9, kNonceBytes));
  const auto tag = challenge_tag(discovery_key, std::span(challenge).first(kTaggedBytes), mesh_id, pubkey);
  std::copy(tag.begin(), tag.end(), challenge.begin() + kTaggedBytes);
  return std::string(challenge.begin(), challenge.end());
}

std::optional<std::array<std::uint8_t, kProofBytes>> registration_proof(const crypto::SecretKey& colony_key,
                                                                        const crypto::PublicKey& discovery_pubkey,
                                                                        const v1::RegisterColonyRequest& request) {
  return proof_from_dh(colony_key, discovery_pubkey, discovery_pubkey, colony_key.public_key(), request);
}

std::expected<void, ProofError> verify_registration(const crypto::SecretKey& discovery_key,
                                                    base::Clock::time_point now,
                                                    const v1::RegisterColonyRequest& request) {
  using Fail = std::unexpected<ProofError>;
  if (request.challenge().empty() && request.proof().empty()) return Fail(ProofError::missing);
  const std::string& challenge = request.challenge();
  if (challenge.size() != kChallengeBytes || static_cast<std::uint8_t>(challenge[0]) != kChallengeVersion) {
    return Fail(ProofError::malformed_challenge);
  }
  const std::optional<crypto::PublicKey> colony_pubkey = raw_public_key(request.wireguard_pubkey());
  if (!colony_pubkey) return Fail(ProofError::forged_challenge);  // validation.h checks the key first
  const auto data = bytes_of(challenge);
  const auto tag = challenge_tag(discovery_key, data.first(kTaggedBytes), request.mesh_id(), *colony_pubkey);
  if (!crypto::constant_time_equal(std::span<const std::uint8_t>(tag), data.subspan(kTaggedBytes))) {
    return Fail(ProofError::forged_challenge);
  }
  std::uint64_t issued_ms = 0;
  for (int i = 0; i < 8; ++i) issued_ms = (issued_ms << 8) | data[1 + i];
  const std::uint64_t now_ms = unix_ms(now);
  if (issued_ms > now_ms + static_cast<std::uint64_t>(std::chrono::milliseconds(kChallengeClockSkew).count())) {
    return Fail(ProofError::future_challenge);
  }
  if (now_ms > issued_ms &&
      now_ms - issued_ms > static_cast<std::uint64_t>(std::chrono::milliseconds(kChallengeLifetime).count())) {
    return Fail(ProofError::expired_challenge);
  }
  if (request.proof().size() != kProofBytes) return Fail(ProofError::malformed_proof);
  const std::optional<crypto::Blake2sDigest> expected =
      proof_from_dh(discovery_key, *colony_pubkey, discovery_key.public_key(), *colony_pubkey, request);
  if (!expected) return Fail(ProofError::low_order_key);
  if (!crypto::constant_time_equal(std::span<const std::uint8_t>(*expected), bytes_of(request.proof()))) {
    return Fail(ProofError::wrong_proof);
  }
  return {};
}

}  // namespace coral::discovery
