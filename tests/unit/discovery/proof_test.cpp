// Proof of possession (proof.h): a colony that holds its WireGuard private
// key can register; one that only knows the public key, or replays a
// challenge for another registration, cannot.

#include "discovery/proof.h"

#include <gtest/gtest.h>

#include "coral/discovery/v1/discovery.pb.h"

namespace coral::discovery {
namespace {

using namespace std::chrono_literals;

struct Signed {
  crypto::SecretKey discovery = crypto::SecretKey::generate();
  crypto::SecretKey colony = crypto::SecretKey::generate();
  base::FakeClock clock;
  v1::RegisterColonyRequest request;

  Signed() {
    request.set_mesh_id("victim-prod");
    request.set_wireguard_pubkey(colony.public_key().to_base64());
    request.add_public_endpoints("203.0.113.42:41820");
    request.set_mesh_ipv4("127.42.0.1");
    request.set_mesh_ipv6("fdc0:42::1");
    request.set_connect_port(9000);
    (*request.mutable_metadata())["app"] = "shop";
    (*request.mutable_metadata())["environment"] = "prod";
    request.set_challenge(issue_challenge(discovery, clock.now(), request.mesh_id(), colony.public_key()));
    sign(colony);
  }
  // Signs with `key` (the colony's own, or someone else's).
  void sign(const crypto::SecretKey& key) {
    const auto proof = registration_proof(key, discovery.public_key(), request);
    ASSERT_TRUE(proof);
    request.set_proof(proof->data(), proof->size());
  }
  std::expected<void, ProofError> verify() const { return verify_registration(discovery, clock.now(), request); }
};

TEST(Proof, TheKeysHolderProvesPossession) {
  Signed s;
  const auto verified = s.verify();
  EXPECT_TRUE(verified) << to_string(verified.error());
  EXPECT_EQ(s.request.challenge().size(), kChallengeBytes);
  EXPECT_EQ(s.request.proof().size(), kProofBytes);
}

TEST(Proof, ASquatterWithThePublicKeyButAnotherPrivateKeyIsRefused) {
  Signed s;
  s.sign(crypto::SecretKey::generate());
  EXPECT_EQ(s.verify().error(), ProofError::wrong_proof);
}

TEST(Proof, ARandomProofIsRefused) {
  Signed s;
  s.request.set_proof(std::string(kProofBytes, '\x42'));
  EXPECT_EQ(s.verify().error(), ProofError::wrong_proof);
}

TEST(Proof, NoProofIsMissing) {
  Signed s;
  s.request.clear_challenge();
  s.request.clear_proof();
  EXPECT_EQ(s.verify().error(), ProofError::missing);
}

TEST(Proof, EveryFieldIsCovered) {
  const std::vector<std::function<void(v1::RegisterColonyRequest&)>> changes{
      [](auto& r) { r.set_mesh_ipv4("127.42.9.9"); },
      [](auto& r) { r.set_mesh_ipv6("fdc0:42::99"); },
      [](auto& r) { r.set_connect_port(9001); },
      [](auto& r) { r.set_public_endpoints(0, "198.51.100.1:41820"); },
      [](auto& r) { r.add_public_endpoints("198.51.100.1:41820"); },
      [](auto& r) { (*r.mutable_metadata())["app"] = "evil"; },
      [](auto& r) { (*r.mutable_metadata())["extra"] = ""; },
  };
  for (std::size_t i = 0; i < changes.size(); ++i) {
    Signed s;
    changes[i](s.request);
    EXPECT_EQ(s.verify().error(), ProofError::wrong_proof) << "change " << i;
  }
}

TEST(Proof, AChallengeIsForOneMeshIdAndKey) {
  Signed s;
  s.request.set_mesh_id("other-colony");
  s.sign(s.colony);
  EXPECT_EQ(s.verify().error(), ProofError::forged_challenge);

  Signed t;  // the squatter's own key, with the victim's challenge
  const auto squatter = crypto::SecretKey::generate();
  t.request.set_wireguard_pubkey(squatter.public_key().to_base64());
  t.sign(squatter);
  EXPECT_EQ(t.verify().error(), ProofError::forged_challenge);
}

TEST(Proof, AChallengeOfAnotherDiscoveryKeyIsForged) {
  Signed s;
  const auto other = crypto::SecretKey::generate();
  EXPECT_EQ(verify_registration(other, s.clock.now(), s.request).error(), ProofError::forged_challenge);
}

TEST(Proof, AChallengeExpiresAfterItsLifetime) {
  Signed s;
  s.clock.advance(kChallengeLifetime);
  EXPECT_TRUE(s.verify());
  s.clock.advance(1ms);
  EXPECT_EQ(s.verify().error(), ProofError::expired_challenge);
}

TEST(Proof, AChallengeFromTheFutureIsRefusedBeyondTheSkew) {
  Signed s;
  const auto issued = s.clock.now();
  s.clock = base::FakeClock(issued - kChallengeClockSkew);
  EXPECT_TRUE(s.verify());
  s.clock = base::FakeClock(issued - kChallengeClockSkew - 1ms);
  EXPECT_EQ(s.verify().error(), ProofError::future_challenge);
}

TEST(Proof, MalformedChallengesAndProofs) {
  Signed s;
  s.request.set_challenge(s.request.challenge().substr(1));
  EXPECT_EQ(s.verify().error(), ProofError::malformed_challenge);
  Signed t;
  t.request.set_proof(t.request.proof().substr(1));
  EXPECT_EQ(t.verify().error(), ProofError::malformed_proof);
}

TEST(Proof, ALowOrderColonyKeyIsRefused) {
  Signed s;
  // The all-zero point: X25519 with it is all zeros, a key anyone knows.
  const crypto::PublicKey zero;
  s.request.set_wireguard_pubkey(zero.to_base64());
  s.request.set_challenge(issue_challenge(s.discovery, s.clock.now(), s.request.mesh_id(), zero));
  s.request.set_proof(std::string(kProofBytes, '\0'));
  EXPECT_EQ(s.verify().error(), ProofError::low_order_key);
}

}  // namespace
}  // namespace coral::discovery
