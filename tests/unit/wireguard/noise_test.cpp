#include "wireguard/noise.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto/aead.h"

namespace coral::wireguard {
namespace {

using crypto::PublicKey;
using crypto::SecretKey;
using Bytes = std::vector<std::uint8_t>;
using namespace std::chrono_literals;

// Fixed keys: the tests are deterministic.
SecretKey key_from(std::uint8_t seed) {
  crypto::KeyBytes bytes{};
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<std::uint8_t>(seed + 7 * i);
  crypto::clamp(bytes);
  return SecretKey(bytes);
}

Tai64n stamp(std::int64_t unix_seconds) {
  return tai64n(std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds)));
}

const Time kStart = Time() + 1000s;

// Through the wire and back: what the peer parses is what was sent.
HandshakeInitiation wire(const HandshakeInitiation& m) { return parse_initiation(serialize(m)).value(); }
HandshakeResponse wire(const HandshakeResponse& m) { return parse_response(serialize(m)).value(); }

struct Peers {
  LocalIdentity a{key_from(1)};
  LocalIdentity b{key_from(2)};
  Handshake a_to_b;
  Handshake b_to_a;

  explicit Peers(std::optional<SecretKey> psk_a = std::nullopt, std::optional<SecretKey> psk_b = std::nullopt)
      : a_to_b(a, b.public_key(), std::move(psk_a)), b_to_a(b, a.public_key(), std::move(psk_b)) {}
};

// Runs the handshake until both sides completed it (keys not derived).
void handshake(Peers& p, std::int64_t unix_seconds = 1700000000, Time now = kStart) {
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(unix_seconds));
  ASSERT_TRUE(initiation);
  auto opened = open_initiation(p.b, wire(*initiation));
  ASSERT_TRUE(opened) << to_string(opened.error());
  ASSERT_TRUE(p.b_to_a.consume_initiation(*opened, now));
  const auto response = p.b_to_a.create_response(22);
  ASSERT_TRUE(response);
  ASSERT_TRUE(p.a_to_b.consume_response(p.a, wire(*response)));
}

// A packet sealed with one side's send key opens with the other's receive
// key, in both directions.
void expect_transport_works(const TransportKeys& sender, const TransportKeys& receiver) {
  const Bytes payload = {'p', 'i', 'n', 'g'};
  crypto::ChaCha20Poly1305 seal(sender.send_key.bytes());
  crypto::ChaCha20Poly1305 open(receiver.receive_key.bytes());
  Bytes sealed(payload.size() + crypto::kAeadTagBytes);
  seal.seal(0, payload, {}, sealed);
  Bytes opened(payload.size());
  ASSERT_TRUE(open.open(0, sealed, {}, opened));
  EXPECT_EQ(opened, payload);
}

TEST(Noise, FullHandshakeDerivesMatchingKeys) {
  Peers p;
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::zeroed);
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000));
  ASSERT_TRUE(initiation);
  EXPECT_EQ(initiation->sender_index, 11U);
  EXPECT_EQ(initiation->mac1, Mac{});  // MACs are cookie.h's
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::initiation_created);
  EXPECT_EQ(p.a_to_b.local_index(), 11U);

  auto opened = open_initiation(p.b, wire(*initiation));
  ASSERT_TRUE(opened);
  EXPECT_EQ(opened->initiator_static(), p.a.public_key());
  EXPECT_EQ(opened->sender_index(), 11U);
  ASSERT_TRUE(p.b_to_a.consume_initiation(*opened, kStart));
  EXPECT_EQ(p.b_to_a.state(), HandshakeState::initiation_consumed);
  EXPECT_EQ(p.b_to_a.latest_timestamp(), stamp(1700000000));

  const auto response = p.b_to_a.create_response(22);
  ASSERT_TRUE(response);
  EXPECT_EQ(response->sender_index, 22U);
  EXPECT_EQ(response->receiver_index, 11U);
  EXPECT_EQ(p.b_to_a.state(), HandshakeState::response_created);
  EXPECT_EQ(p.b_to_a.local_index(), 22U);

  ASSERT_TRUE(p.a_to_b.consume_response(p.a, wire(*response)));
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::response_consumed);

  const auto keys_a = p.a_to_b.derive_keys();
  const auto keys_b = p.b_to_a.derive_keys();
  ASSERT_TRUE(keys_a);
  ASSERT_TRUE(keys_b);
  EXPECT_EQ(keys_a->send_key, keys_b->receive_key);
  EXPECT_EQ(keys_a->receive_key, keys_b->send_key);
  EXPECT_FALSE(keys_a->send_key == keys_a->receive_key);
  EXPECT_EQ(keys_a->local_index, 11U);
  EXPECT_EQ(keys_a->remote_index, 22U);
  EXPECT_EQ(keys_b->local_index, 22U);
  EXPECT_EQ(keys_b->remote_index, 11U);
  EXPECT_TRUE(keys_a->initiator);
  EXPECT_FALSE(keys_b->initiator);
  expect_transport_works(*keys_a, *keys_b);
  expect_transport_works(*keys_b, *keys_a);

  // Deriving zeroes the handshake.
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::zeroed);
  EXPECT_EQ(p.b_to_a.state(), HandshakeState::zeroed);
  EXPECT_EQ(p.a_to_b.derive_keys().error(), HandshakeError::wrong_state);
}

TEST(Noise, EachHandshakeGivesFreshKeys) {
  Peers p;
  handshake(p, 1700000000);
  const auto first = p.a_to_b.derive_keys().value();
  handshake(p, 1700000001, kStart + 1s);
  const auto second = p.a_to_b.derive_keys().value();
  EXPECT_FALSE(first.send_key == second.send_key);
}

TEST(Noise, PresharedKeyOnBothSides) {
  Peers p(key_from(9), key_from(9));
  handshake(p);
  const auto keys_a = p.a_to_b.derive_keys().value();
  const auto keys_b = p.b_to_a.derive_keys().value();
  EXPECT_EQ(keys_a.send_key, keys_b.receive_key);
  expect_transport_works(keys_a, keys_b);

  // The preshared key changes the keys: the same handshake without it
  // gives others.
  Peers plain;
  handshake(plain);
  EXPECT_FALSE(plain.a_to_b.derive_keys().value().send_key == keys_a.send_key);
}

// wg treats an all-zero preshared key as none: the protocol's Q is zeros.
TEST(Noise, AllZeroPresharedKeyIsNoPresharedKey) {
  Peers p(SecretKey(), std::nullopt);
  handshake(p);
  EXPECT_EQ(p.a_to_b.derive_keys().value().send_key, p.b_to_a.derive_keys().value().receive_key);
}

TEST(Noise, WrongPresharedKeyFailsAtTheInitiatorAndChangesNothing) {
  // B has a wrong preshared key, B2 (same identity) the right one.
  Peers p(key_from(9), key_from(10));
  Handshake b2_to_a(p.b, p.a.public_key(), key_from(9));
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  auto opened = open_initiation(p.b, wire(initiation)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(opened, kStart));
  ASSERT_TRUE(b2_to_a.consume_initiation(opened, kStart));
  const auto wrong = p.b_to_a.create_response(22).value();  // the responder cannot tell
  const auto right = b2_to_a.create_response(23).value();

  EXPECT_EQ(p.a_to_b.consume_response(p.a, wire(wrong)).error(), HandshakeError::decryption_failed);
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::initiation_created);
  ASSERT_TRUE(p.a_to_b.consume_response(p.a, wire(right)));
  EXPECT_EQ(p.a_to_b.derive_keys().value().send_key, b2_to_a.derive_keys().value().receive_key);
}

TEST(Noise, PresharedKeyOnOneSideOnlyFails) {
  Peers p(std::nullopt, key_from(9));
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  auto opened = open_initiation(p.b, wire(initiation)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(opened, kStart));
  const auto response = p.b_to_a.create_response(22).value();
  EXPECT_EQ(p.a_to_b.consume_response(p.a, wire(response)).error(), HandshakeError::decryption_failed);
}

TEST(Noise, InitiationForAnotherResponderDoesNotOpen) {
  Peers p;
  const LocalIdentity c(key_from(3));
  Handshake a_to_c(p.a, c.public_key());
  const auto initiation = a_to_c.create_initiation(p.a, 11, stamp(1700000000)).value();
  EXPECT_EQ(open_initiation(p.b, wire(initiation)).error(), HandshakeError::decryption_failed);
  EXPECT_TRUE(open_initiation(c, wire(initiation)));
}

TEST(Noise, OpenedInitiationGoesOnlyToItsPeer) {
  Peers p;
  const LocalIdentity c(key_from(3));
  Handshake b_to_c(p.b, c.public_key());
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  auto opened = open_initiation(p.b, wire(initiation)).value();
  EXPECT_EQ(b_to_c.consume_initiation(opened, kStart).error(), HandshakeError::wrong_peer);
  EXPECT_EQ(b_to_c.state(), HandshakeState::zeroed);
}

TEST(Noise, TamperedInitiationIsRejected) {
  Peers p;
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  const auto bytes = serialize(initiation);
  // Ephemeral, encrypted static and encrypted timestamp (bytes 8-115) are
  // all bound into the AEADs; the sender index and MACs are not (mac1
  // covers them).
  for (std::size_t i = 8; i < 116; ++i) {
    auto tampered = bytes;
    tampered[i] ^= 0x04;
    const auto message = parse_initiation(tampered).value();
    auto opened = open_initiation(p.b, message);
    if (!opened) {
      EXPECT_TRUE(opened.error() == HandshakeError::decryption_failed ||
                  opened.error() == HandshakeError::invalid_public_key)
          << i;
      continue;
    }
    // Only the timestamp is left to catch it.
    ASSERT_GE(i, 88U) << "byte " << i << " was not authenticated by the static key's AEAD";
    EXPECT_EQ(p.b_to_a.consume_initiation(*opened, kStart).error(), HandshakeError::decryption_failed) << i;
  }
  EXPECT_EQ(p.b_to_a.state(), HandshakeState::zeroed);
  EXPECT_EQ(p.b_to_a.latest_timestamp(), Tai64n{});
}

TEST(Noise, TamperedResponseIsRejectedAndTheRealOneStillWorks) {
  Peers p;
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  auto opened = open_initiation(p.b, wire(initiation)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(opened, kStart));
  const auto response = p.b_to_a.create_response(22).value();
  const auto bytes = serialize(response);
  for (std::size_t i = 12; i < 60; ++i) {  // ephemeral and encrypted nothing
    auto tampered = bytes;
    tampered[i] ^= 0x10;
    const auto result = p.a_to_b.consume_response(p.a, parse_response(tampered).value());
    ASSERT_FALSE(result) << i;
    EXPECT_TRUE(result.error() == HandshakeError::decryption_failed ||
                result.error() == HandshakeError::invalid_public_key)
        << i;
    EXPECT_EQ(p.a_to_b.state(), HandshakeState::initiation_created);
  }
  auto other_receiver = response;
  other_receiver.receiver_index = 12;
  EXPECT_EQ(p.a_to_b.consume_response(p.a, other_receiver).error(), HandshakeError::wrong_receiver_index);
  ASSERT_TRUE(p.a_to_b.consume_response(p.a, wire(response)));
  EXPECT_EQ(p.a_to_b.derive_keys().value().send_key, p.b_to_a.derive_keys().value().receive_key);
}

TEST(Noise, ReplayedAndOlderInitiationsAreRejected) {
  Peers p;
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000100)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(initiation)).value(), kStart));
  ASSERT_TRUE(p.b_to_a.create_response(22));

  // The same initiation again, a second later (past the flood limit).
  auto replay = open_initiation(p.b, wire(initiation)).value();
  EXPECT_EQ(p.b_to_a.consume_initiation(replay, kStart + 1s).error(), HandshakeError::replayed_timestamp);
  // The handshake in progress was not disturbed.
  EXPECT_EQ(p.b_to_a.state(), HandshakeState::response_created);

  const auto older = p.a_to_b.create_initiation(p.a, 12, stamp(1700000099)).value();
  EXPECT_EQ(p.b_to_a.consume_initiation(open_initiation(p.b, wire(older)).value(), kStart + 2s).error(),
            HandshakeError::replayed_timestamp);
  EXPECT_EQ(p.b_to_a.latest_timestamp(), stamp(1700000100));

  const auto newer = p.a_to_b.create_initiation(p.a, 13, stamp(1700000101)).value();
  EXPECT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(newer)).value(), kStart + 3s));
  EXPECT_EQ(p.b_to_a.latest_timestamp(), stamp(1700000101));
}

TEST(Noise, InitiationsFasterThanTheRateAreRejected) {
  Peers p;
  const auto first = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(first)).value(), kStart));
  const auto second = p.a_to_b.create_initiation(p.a, 12, stamp(1700000001)).value();
  auto opened = open_initiation(p.b, wire(second)).value();
  EXPECT_EQ(p.b_to_a.consume_initiation(opened, kStart + 19ms).error(), HandshakeError::initiation_flood);
  EXPECT_TRUE(p.b_to_a.consume_initiation(opened, kStart + 20ms));
}

TEST(Noise, StepsInTheWrongStateAreRejected) {
  Peers p;
  HandshakeResponse stray;
  EXPECT_EQ(p.a_to_b.consume_response(p.a, stray).error(), HandshakeError::wrong_state);
  EXPECT_EQ(p.b_to_a.create_response(22).error(), HandshakeError::wrong_state);
  EXPECT_EQ(p.b_to_a.derive_keys().error(), HandshakeError::wrong_state);

  // The initiator cannot respond, and the responder cannot consume a
  // response.
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  EXPECT_EQ(p.a_to_b.create_response(12).error(), HandshakeError::wrong_state);
  EXPECT_EQ(p.a_to_b.derive_keys().error(), HandshakeError::wrong_state);
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(initiation)).value(), kStart));
  EXPECT_EQ(p.b_to_a.derive_keys().error(), HandshakeError::wrong_state);
  const auto response = p.b_to_a.create_response(22).value();
  EXPECT_EQ(p.b_to_a.consume_response(p.b, response).error(), HandshakeError::wrong_state);
  EXPECT_EQ(p.b_to_a.create_response(23).error(), HandshakeError::wrong_state);  // only one response

  // A second copy of the response, after the first completed.
  ASSERT_TRUE(p.a_to_b.consume_response(p.a, response));
  EXPECT_EQ(p.a_to_b.consume_response(p.a, response).error(), HandshakeError::wrong_state);
}

TEST(Noise, NewInitiationReplacesTheOneInProgress) {
  Peers p;
  const auto first = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  ASSERT_TRUE(p.a_to_b.create_initiation(p.a, 12, stamp(1700000001)));
  EXPECT_EQ(p.a_to_b.local_index(), 12U);
  // B answers the first: A no longer waits for it.
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(first)).value(), kStart));
  auto response = p.b_to_a.create_response(22).value();
  EXPECT_EQ(p.a_to_b.consume_response(p.a, response).error(), HandshakeError::wrong_receiver_index);
  response.receiver_index = 12;  // and pretending it answers the second does not decrypt
  EXPECT_EQ(p.a_to_b.consume_response(p.a, response).error(), HandshakeError::decryption_failed);

  // Both sides initiate at once: consuming the peer's initiation drops ours.
  Peers q;
  const auto from_a = q.a_to_b.create_initiation(q.a, 11, stamp(1700000000)).value();
  ASSERT_TRUE(q.b_to_a.create_initiation(q.b, 21, stamp(1700000000)));
  ASSERT_TRUE(q.b_to_a.consume_initiation(open_initiation(q.b, wire(from_a)).value(), kStart));
  EXPECT_EQ(q.b_to_a.state(), HandshakeState::initiation_consumed);
  ASSERT_TRUE(q.a_to_b.consume_response(q.a, wire(q.b_to_a.create_response(22).value())));
}

TEST(Noise, LowOrderKeysAreRejected) {
  Peers p;
  Handshake to_zero(p.a, PublicKey());
  EXPECT_EQ(to_zero.create_initiation(p.a, 1, stamp(1700000000)).error(), HandshakeError::invalid_public_key);

  auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  initiation.ephemeral = {};
  EXPECT_EQ(open_initiation(p.b, initiation).error(), HandshakeError::invalid_public_key);

  // A response whose ephemeral is a low-order point.
  const auto good = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(good)).value(), kStart));
  auto response = p.b_to_a.create_response(22).value();
  response.ephemeral = {};
  response.ephemeral[0] = 1;
  EXPECT_EQ(p.a_to_b.consume_response(p.a, response).error(), HandshakeError::invalid_public_key);
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::initiation_created);
}

TEST(Noise, IdentityMustBeTheOneTheHandshakeWasSetUpWith) {
  Peers p;
  const LocalIdentity other(key_from(5));
  EXPECT_EQ(p.a_to_b.create_initiation(other, 11, stamp(1700000000)).error(), HandshakeError::identity_mismatch);
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  EXPECT_EQ(p.a_to_b.consume_response(other, HandshakeResponse{.receiver_index = 11}).error(),
            HandshakeError::identity_mismatch);

  // B's key changes between opening the initiation and finishing it.
  auto opened = open_initiation(p.b, wire(initiation)).value();
  const LocalIdentity b_new(key_from(6));
  p.b_to_a.set_local_identity(b_new);
  EXPECT_EQ(p.b_to_a.consume_initiation(opened, kStart).error(), HandshakeError::identity_mismatch);

  // After set_local_identity the handshake runs with the new key (the
  // initiator learns it: here, a new Handshake).
  Handshake a_to_b_new(p.a, b_new.public_key());
  const auto fresh = a_to_b_new.create_initiation(p.a, 12, stamp(1700000001)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(b_new, wire(fresh)).value(), kStart));
  ASSERT_TRUE(a_to_b_new.consume_response(p.a, wire(p.b_to_a.create_response(22).value())));
}

TEST(Noise, FixedEphemeralsGiveIdenticalMessages) {
  Peers p1;
  Peers p2;
  const SecretKey e_a = key_from(40);
  const SecretKey e_b = key_from(41);
  const auto i1 = p1.a_to_b.create_initiation(p1.a, 11, stamp(1700000000), e_a).value();
  const auto i2 = p2.a_to_b.create_initiation(p2.a, 11, stamp(1700000000), e_a).value();
  EXPECT_EQ(i1, i2);
  EXPECT_EQ(PublicKey(i1.ephemeral), e_a.public_key());
  ASSERT_TRUE(p1.b_to_a.consume_initiation(open_initiation(p1.b, i1).value(), kStart));
  ASSERT_TRUE(p2.b_to_a.consume_initiation(open_initiation(p2.b, i2).value(), kStart));
  EXPECT_EQ(p1.b_to_a.create_response(22, e_b).value(), p2.b_to_a.create_response(22, e_b).value());
  // Random ephemerals differ.
  const auto r1 = p1.a_to_b.create_initiation(p1.a, 11, stamp(1700000000)).value();
  const auto r2 = p1.a_to_b.create_initiation(p1.a, 11, stamp(1700000000)).value();
  EXPECT_NE(r1.ephemeral, r2.ephemeral);
}

TEST(Noise, ClearDropsTheHandshakeInProgress) {
  Peers p;
  const auto initiation = p.a_to_b.create_initiation(p.a, 11, stamp(1700000000)).value();
  ASSERT_TRUE(p.b_to_a.consume_initiation(open_initiation(p.b, wire(initiation)).value(), kStart));
  const auto response = p.b_to_a.create_response(22).value();
  p.a_to_b.clear();
  EXPECT_EQ(p.a_to_b.state(), HandshakeState::zeroed);
  EXPECT_EQ(p.a_to_b.local_index(), std::nullopt);
  EXPECT_EQ(p.a_to_b.consume_response(p.a, response).error(), HandshakeError::wrong_state);
}

TEST(Noise, ToStringNamesEveryValue) {
  EXPECT_EQ(to_string(HandshakeState::initiation_consumed), "initiation_consumed");
  EXPECT_EQ(to_string(HandshakeState::response_created), "response_created");
  EXPECT_EQ(to_string(HandshakeError::replayed_timestamp), "replayed_timestamp");
  EXPECT_EQ(to_string(HandshakeError::wrong_receiver_index), "wrong_receiver_index");
}

}  // namespace
}  // namespace coral::wireguard
