#include "wireguard/noise.h"

#include <algorithm>
#include <utility>

#include "crypto/aead.h"
#include "crypto/blake2s.h"

namespace coral::wireguard {
namespace {

using crypto::KeyBytes;
using crypto::PublicKey;
using crypto::SecretKey;
using Bytes = std::span<const std::uint8_t>;

Bytes as_bytes(std::string_view text) { return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}; }

// HASH(a || b)
KeyBytes hash(Bytes a, Bytes b) {
  crypto::Blake2s h;
  h.update(a);
  h.update(b);
  KeyBytes out{};
  h.finish(out);
  return out;
}

// Ci = HASH(CONSTRUCTION); Hi = HASH(Ci || IDENTIFIER). Both sides start
// from these; the next step mixes in the responder's static key.
const KeyBytes& initial_chaining_key() {
  static const KeyBytes key = crypto::blake2s_256(as_bytes(kNoiseConstruction));
  return key;
}

const KeyBytes& initial_hash() {
  static const KeyBytes value = hash(initial_chaining_key(), as_bytes(kNoiseIdentifier));
  return value;
}

// KDF_n(key, input) of the paper (section 5.4): HKDF over HMAC-BLAKE2s.
//   t0 = HMAC(key, input); t1 = HMAC(t0, 0x1); t2 = HMAC(t0, t1 || 0x2);
//   t3 = HMAC(t0, t2 || 0x3)
// Outputs that are null are not computed. An output may alias `key`.
void kdf(const KeyBytes& key, Bytes input, KeyBytes* t1, KeyBytes* t2 = nullptr, KeyBytes* t3 = nullptr) {
  crypto::Blake2sDigest t0 = crypto::hmac_blake2s(key, input);
  std::array<std::uint8_t, 33> buffer{};
  buffer[0] = 0x1;
  crypto::Blake2sDigest out1 = crypto::hmac_blake2s(t0, std::span(buffer).first(1));
  crypto::Blake2sDigest out2{};
  crypto::Blake2sDigest out3{};
  if (t2 != nullptr || t3 != nullptr) {
    std::copy(out1.begin(), out1.end(), buffer.begin());
    buffer[32] = 0x2;
    out2 = crypto::hmac_blake2s(t0, buffer);
  }
  if (t3 != nullptr) {
    std::copy(out2.begin(), out2.end(), buffer.begin());
    buffer[32] = 0x3;
    out3 = crypto::hmac_blake2s(t0, buffer);
  }
  if (t1 != nullptr) *t1 = out1;
  if (t2 != nullptr) *t2 = out2;
  if (t3 != nullptr) *t3 = out3;
  crypto::wipe(t0);
  crypto::wipe(buffer);
  crypto::wipe(out1);
  crypto::wipe(out2);
  crypto::wipe(out3);
}

// The chaining key C and hash H while one message is built or read. Works
// on copies, so that a failed step leaves the Handshake's state as it was;
// wiped on destruction.
class SymmetricState {
 public:
  SymmetricState(const KeyBytes& chaining_key, const KeyBytes& hash) : chaining_key_(chaining_key), hash_(hash) {}
  SymmetricState(const SymmetricState&) = delete;
  SymmetricState& operator=(const SymmetricState&) = delete;
  ~SymmetricState() {
    crypto::wipe(chaining_key_);
    crypto::wipe(hash_);
  }

  // H = HASH(H || data)
  void mix_hash(Bytes data) { hash_ = hash(hash_, data); }
  // C = KDF1(C, input)
  void mix_key(Bytes input) { kdf(chaining_key_, input, &chaining_key_); }
  // (C, k) = KDF2(C, input): returns k.
  SecretKey mix_key_and_get(Bytes input) {
    KeyBytes key{};
    kdf(chaining_key_, input, &chaining_key_, &key);
    SecretKey result(key);
    crypto::wipe(key);
    return result;
  }
  // The psk step: (C, tau, k) = KDF3(C, Q); H = HASH(H || tau); returns k.
  SecretKey mix_preshared_key(const SecretKey& preshared_key) {
    KeyBytes tau{};
    KeyBytes key{};
    kdf(chaining_key_, preshared_key.bytes(), &chaining_key_, &tau, &key);
    mix_hash(tau);
    SecretKey result(key);
    crypto::wipe(tau);
    crypto::wipe(key);
    return result;
  }

  // AEAD(k, 0, plaintext, H), then H = HASH(H || ciphertext).
  void encrypt_and_hash(const SecretKey& key, Bytes plaintext, std::span<std::uint8_t> out) {
    crypto::chacha20poly1305_seal(key.bytes(), 0, plaintext, hash_, out);
    mix_hash(out);
  }
  // The inverse; false (H unchanged) when the tag does not verify.
  bool decrypt_and_hash(const SecretKey& key, Bytes ciphertext, std::span<std::uint8_t> out) {
    if (!crypto::chacha20poly1305_open(key.bytes(), 0, ciphertext, hash_, out)) return false;
    mix_hash(ciphertext);
    return true;
  }

  SecretKey chaining_key() const { return SecretKey(chaining_key_); }
  SecretKey hash_value() const { return SecretKey(hash_); }

 private:
  KeyBytes chaining_key_;
  KeyBytes hash_;
};

}  // namespace

std::string_view to_string(HandshakeError error) {
  switch (error) {
    case HandshakeError::wrong_state:
      return "wrong_state";
    case HandshakeError::identity_mismatch:
      return "identity_mismatch";
    case HandshakeError::invalid_public_key:
      return "invalid_public_key";
    case HandshakeError::decryption_failed:
      return "decryption_failed";
    case HandshakeError::wrong_peer:
      return "wrong_peer";
    case HandshakeError::replayed_timestamp:
      return "replayed_timestamp";
    case HandshakeError::initiation_flood:
      return "initiation_flood";
    case HandshakeError::wrong_receiver_index:
      return "wrong_receiver_index";
  }
  return "unknown";
}

std::string_view to_string(HandshakeState state) {
  switch (state) {
    case HandshakeState::zeroed:
      return "zeroed";
    case HandshakeState::initiation_created:
      return "initiation_created";
    case HandshakeState::initiation_consumed:
      return "initiation_consumed";
    case HandshakeState::response_created:
      return "response_created";
    case HandshakeState::response_consumed:
      return "response_consumed";
  }
  return "unknown";
}

LocalIdentity::LocalIdentity(SecretKey private_key)
    : private_key_(std::move(private_key)),
      public_key_(private_key_.public_key()),
      responder_hash_(hash(initial_hash(), public_key_.bytes())) {}

std::expected<OpenedInitiation, HandshakeError> open_initiation(const LocalIdentity& local,
                                                                const HandshakeInitiation& message) {
  SymmetricState s(initial_chaining_key(), local.responder_hash_);
  const PublicKey ephemeral(message.ephemeral);
  // e
  s.mix_key(ephemeral.bytes());
  s.mix_hash(ephemeral.bytes());
  // es
  const std::optional<SecretKey> es = crypto::x25519(local.private_key(), ephemeral);
  if (!es) return std::unexpected(HandshakeError::invalid_public_key);
  const SecretKey key = s.mix_key_and_get(es->bytes());
  // s
  KeyBytes initiator_static{};
  if (!s.decrypt_and_hash(key, message.encrypted_static, initiator_static)) {
    return std::unexpected(HandshakeError::decryption_failed);
  }
  OpenedInitiation opened;
  opened.local_public_ = local.public_key();
  opened.initiator_static_ = PublicKey(initiator_static);
  opened.initiator_ephemeral_ = ephemeral;
  opened.sender_index_ = message.sender_index;
  opened.chaining_key_ = s.chaining_key();
  opened.hash_ = s.hash_value();
  opened.encrypted_timestamp_ = message.encrypted_timestamp;
  return opened;
}

Handshake::Handshake(const LocalIdentity& local, const PublicKey& remote_static,
                     std::optional<SecretKey> preshared_key)
    : remote_static_(remote_static),
      preshared_key_(preshared_key ? std::move(*preshared_key) : SecretKey()),
      initiator_hash_(hash(initial_hash(), remote_static.bytes())) {
  set_local_identity(local);
}

void Handshake::set_local_identity(const LocalIdentity& local) {
  local_public_ = local.public_key();
  static_static_ = crypto::x25519(local.private_key(), remote_static_);
  clear();
}

void Handshake::set_preshared_key(std::optional<SecretKey> preshared_key) {
  preshared_key_ = preshared_key ? std::move(*preshared_key) : SecretKey();
}

HandshakeState Handshake::state() const {
  if (std::holds_alternative<InitiationCreated>(state_)) return HandshakeState::initiation_created;
  if (std::holds_alternative<InitiationConsumed>(state_)) return HandshakeState::initiation_consumed;
  if (const auto* completed = std::get_if<Completed>(&state_)) {
    return completed->initiator ? HandshakeState::response_consumed : HandshakeState::response_created;
  }
  return HandshakeState::zeroed;
}

std::optional<std::uint32_t> Handshake::local_index() const {
  if (const auto* created = std::get_if<InitiationCreated>(&state_)) return created->local_index;
  if (const auto* completed = std::get_if<Completed>(&state_)) return completed->local_index;
  return std::nullopt;
}

std::expected<HandshakeInitiation, HandshakeError> Handshake::create_initiation(const LocalIdentity& local,
                                                                                std::uint32_t local_index,
                                                                                const Tai64n& timestamp,
                                                                                const SecretKey& ephemeral) {
  if (local.public_key() != local_public_) return std::unexpected(HandshakeError::identity_mismatch);
  if (!static_static_) return std::unexpected(HandshakeError::invalid_public_key);
  HandshakeInitiation message;
  message.sender_index = local_index;
  SymmetricState s(initial_chaining_key(), initiator_hash_);
  // e
  const PublicKey ephemeral_public = ephemeral.public_key();
  message.ephemeral = ephemeral_public.bytes();
  s.mix_key(message.ephemeral);
  s.mix_hash(message.ephemeral);
  // es
  const std::optional<SecretKey> es = crypto::x25519(ephemeral, remote_static_);
  if (!es) return std::unexpected(HandshakeError::invalid_public_key);
  SecretKey key = s.mix_key_and_get(es->bytes());
  // s
  s.encrypt_and_hash(key, local.public_key().bytes(), message.encrypted_static);
  // ss
  key = s.mix_key_and_get(static_static_->bytes());
  // {t}
  s.encrypt_and_hash(key, timestamp, message.encrypted_timestamp);

  state_ = InitiationCreated{
      .chaining_key = s.chaining_key(),
      .hash = s.hash_value(),
      .ephemeral = ephemeral,
      .local_index = local_index,
  };
  return message;
}

std::expected<HandshakeInitiation, HandshakeError> Handshake::create_initiation(const LocalIdentity& local,
                                                                                std::uint32_t local_index,
                                                                                const Tai64n& timestamp) {
  return create_initiation(local, local_index, timestamp, SecretKey::generate());
}

std::expected<void, HandshakeError> Handshake::consume_response(const LocalIdentity& local,
                                                                const HandshakeResponse& message) {
  const auto* created = std::get_if<InitiationCreated>(&state_);
  if (created == nullptr) return std::unexpected(HandshakeError::wrong_state);
  if (local.public_key() != local_public_) return std::unexpected(HandshakeError::identity_mismatch);
  if (message.receiver_index != created->local_index) return std::unexpected(HandshakeError::wrong_receiver_index);

  SymmetricState s(created->chaining_key.bytes(), created->hash.bytes());
  const PublicKey responder_ephemeral(message.ephemeral);
  // e
  s.mix_key(responder_ephemeral.bytes());
  s.mix_hash(responder_ephemeral.bytes());
  // ee
  const std::optional<SecretKey> ee = crypto::x25519(created->ephemeral, responder_ephemeral);
  if (!ee) return std::unexpected(HandshakeError::invalid_public_key);
  s.mix_key(ee->bytes());
  // se
  const std::optional<SecretKey> se = crypto::x25519(local.private_key(), responder_ephemeral);
  if (!se) return std::unexpected(HandshakeError::invalid_public_key);
  s.mix_key(se->bytes());
  // psk
  const SecretKey key = s.mix_preshared_key(preshared_key_);
  // {}
  if (!s.decrypt_and_hash(key, message.encrypted_nothing, {})) {
    return std::unexpected(HandshakeError::decryption_failed);
  }

  const std::uint32_t local_index = created->local_index;
  state_ = Completed{
      .chaining_key = s.chaining_key(),
      .local_index = local_index,
      .remote_index = message.sender_index,
      .initiator = true,
  };
  return {};
}

std::expected<void, HandshakeError> Handshake::consume_initiation(const OpenedInitiation& initiation, Time now) {
  if (initiation.local_public_ != local_public_) return std::unexpected(HandshakeError::identity_mismatch);
  if (initiation.initiator_static_ != remote_static_) return std::unexpected(HandshakeError::wrong_peer);
  if (!static_static_) return std::unexpected(HandshakeError::invalid_public_key);

  SymmetricState s(initiation.chaining_key_.bytes(), initiation.hash_.bytes());
  // ss
  const SecretKey key = s.mix_key_and_get(static_static_->bytes());
  // {t}
  Tai64n timestamp{};
  if (!s.decrypt_and_hash(key, initiation.encrypted_timestamp_, timestamp)) {
    return std::unexpected(HandshakeError::decryption_failed);
  }
  if (!tai64n_after(timestamp, latest_timestamp_)) return std::unexpected(HandshakeError::replayed_timestamp);
  static const Duration kInitiationRate = Timings{}.handshake_initiation_rate;
  if (last_initiation_consumed_ && now < *last_initiation_consumed_ + kInitiationRate) {
    return std::unexpected(HandshakeError::initiation_flood);
  }

  state_ = InitiationConsumed{
      .chaining_key = s.chaining_key(),
      .hash = s.hash_value(),
      .remote_ephemeral = initiation.initiator_ephemeral_,
      .remote_index = initiation.sender_index_,
  };
  latest_timestamp_ = timestamp;
  last_initiation_consumed_ = now;
  return {};
}

std::expected<HandshakeResponse, HandshakeError> Handshake::create_response(std::uint32_t local_index,
                                                                            const SecretKey& ephemeral) {
  const auto* consumed = std::get_if<InitiationConsumed>(&state_);
  if (consumed == nullptr) return std::unexpected(HandshakeError::wrong_state);

  HandshakeResponse message;
  message.sender_index = local_index;
  message.receiver_index = consumed->remote_index;
  SymmetricState s(consumed->chaining_key.bytes(), consumed->hash.bytes());
  // e
  const PublicKey ephemeral_public = ephemeral.public_key();
  message.ephemeral = ephemeral_public.bytes();
  s.mix_key(message.ephemeral);
  s.mix_hash(message.ephemeral);
  // ee
  const std::optional<SecretKey> ee = crypto::x25519(ephemeral, consumed->remote_ephemeral);
  if (!ee) return std::unexpected(HandshakeError::invalid_public_key);
  s.mix_key(ee->bytes());
  // se
  const std::optional<SecretKey> se = crypto::x25519(ephemeral, remote_static_);
  if (!se) return std::unexpected(HandshakeError::invalid_public_key);
  s.mix_key(se->bytes());
  // psk
  const SecretKey key = s.mix_preshared_key(preshared_key_);
  // {}
  s.encrypt_and_hash(key, {}, message.encrypted_nothing);

  const std::uint32_t remote_index = consumed->remote_index;
  state_ = Completed{
      .chaining_key = s.chaining_key(),
      .local_index = local_index,
      .remote_index = remote_index,
      .initiator = false,
  };
  return message;
}

std::expected<HandshakeResponse, HandshakeError> Handshake::create_response(std::uint32_t local_index) {
  return create_response(local_index, SecretKey::generate());
}

std::expected<TransportKeys, HandshakeError> Handshake::derive_keys() {
  const auto* completed = std::get_if<Completed>(&state_);
  if (completed == nullptr) return std::unexpected(HandshakeError::wrong_state);
  // (T_send_i = T_recv_r, T_recv_i = T_send_r) = KDF2(C, empty)
  KeyBytes first{};
  KeyBytes second{};
  kdf(completed->chaining_key.bytes(), {}, &first, &second);
  TransportKeys keys{
      .send_key = SecretKey(completed->initiator ? first : second),
      .receive_key = SecretKey(completed->initiator ? second : first),
      .local_index = completed->local_index,
      .remote_index = completed->remote_index,
      .initiator = completed->initiator,
  };
  crypto::wipe(first);
  crypto::wipe(second);
  clear();
  return keys;
}

void Handshake::clear() { state_ = std::monostate{}; }

}  // namespace coral::wireguard
