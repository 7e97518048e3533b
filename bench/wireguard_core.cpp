// coral-wireguard-bench: the one-core ceilings of coral's WireGuard core,
// for bench/wireguard.sh (its WG_CORE_BENCH hook) and by hand.
//
//   coral-wireguard-bench [--seconds N] [--reps R] [--only NAME]...
//
// Each figure is measured for N seconds of this thread's CPU time
// (CLOCK_THREAD_CPUTIME_ID, so time the scheduler gives to other processes
// does not count) after an untimed warm-up; the caller pins the process to
// one core (taskset). With --reps R every case runs R times, interleaved,
// and the median is printed. Output on stdout: one "<metric> <value> <unit>"
// line per figure (MB = 10^6 bytes of packet); details on stderr.
//
// Data path, 1420-byte packets (the default MTU), one core:
//   seal_1420 / open_1420        crypto::ChaCha20Poly1305, one key, the
//                                counter as nonce, in place (seal) and out
//                                of place (open, the same sealed packet
//                                each time: the AEAD has no replay state)
//   keypair_seal_1420            wireguard::Keypair::seal: header, copy,
//                                padding, seal (what the engine does per
//                                packet before the socket)
//   keypair_open_1420            wireguard::Keypair::open of pre-sealed
//                                messages with increasing counters (tag
//                                check, replay window); a fresh keypair per
//                                batch of 256, made outside the timing
// References, 1420 bytes:
//   evp_keyonce_seal_1420        OpenSSL EVP with the key set once, nonce
//                                per packet, tag fetched (= the class, bare)
//   evp_stream_1420              what `openssl speed -aead -evp
//                                chacha20-poly1305 -bytes 1420` measures in
//                                OpenSSL 3.0: EVP_EncryptUpdate only, one
//                                endless message (no nonce, Poly1305 key,
//                                final block or tag per packet)
//   evp_oneshot_seal_1420        EVP_EncryptInit_ex with cipher and key for
//                                every packet (a context reused)
//   sodium_seal_1420             libsodium's crypto_aead_chacha20poly1305_
//                                ietf_encrypt (the key every packet: it has
//                                no other interface)
//   seal_1420_proto /            ProtoAead below: the class's interface with
//   open_1420_proto              less EVP overhead per packet, a candidate
//                                for src/crypto/aead.cpp
// Handshakes, both sides on this one core:
//   handshakes                   two wireguard::Engine in memory: initiation,
//                                response, first transport message (mac1,
//                                index table, cryptokey routing included)
//   noise_handshakes             the Noise steps alone (noise::Handshake)
//   x25519 / x25519_base         crypto::x25519 (variable base; a complete
//                                handshake does 6) and public-key derivation
//                                (fixed base; 2 per handshake)

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/aead.h"
#include "crypto/keys.h"
#include "wireguard/engine.h"
#include "wireguard/keypair.h"
#include "wireguard/messages.h"
#include "wireguard/noise.h"
#include "wireguard/tai64n.h"

namespace {

using namespace coral;
using Bytes = std::vector<std::uint8_t>;

constexpr std::size_t kPacket = 1420;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "coral-wireguard-bench: %s\n", what);
  std::exit(1);
}

void check(bool ok, const char* what) {
  if (!ok) fail(what);
}

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double wall_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Keeps the compiler from dropping work whose result is never read.
void keep(const void* p) { asm volatile("" : : "r"(p) : "memory"); }

crypto::KeyBytes fixed_key(std::uint8_t seed) {
  crypto::KeyBytes key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(seed + 7 * i);
  return key;
}

// A case: `batch` does some operations and returns how many; `prepare`, if
// set, runs untimed before each batch.
struct Case {
  std::string name;
  std::string unit;              // "MB/s" (bytes_per_op > 0) or a rate unit
  std::size_t bytes_per_op = 0;  // 0: the figure is operations per second
  std::function<std::size_t()> batch;
  std::function<void()> prepare;
  std::string also_per_second;  // when set: a second line, ops/s under this name
};

struct Sample {
  double ops = 0;
  double cpu = 0;
  double wall = 0;
};

Sample run_for(const Case& c, double seconds) {
  Sample s;
  const double wall0 = wall_seconds();
  while (s.cpu < seconds) {
    if (c.prepare) c.prepare();
    const double t0 = thread_cpu_seconds();
    const std::size_t ops = c.batch();
    s.cpu += thread_cpu_seconds() - t0;
    s.ops += static_cast<double>(ops);
  }
  s.wall = wall_seconds() - wall0;
  return s;
}

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// ------------------------------------------------------------- data path

// Operations per batch for the per-packet cases: about 50-100 µs, far above
// the cost of the two clock reads around it.
constexpr std::size_t kPacketsPerBatch = 64;

Case aead_seal() {
  auto aead = std::make_shared<crypto::ChaCha20Poly1305>(fixed_key(1));
  auto buf = std::make_shared<Bytes>(kPacket + crypto::kAeadTagBytes, 0x42);
  auto counter = std::make_shared<std::uint64_t>(0);
  return {.name = "seal_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
                  aead->seal((*counter)++, std::span(buf->data(), kPacket), {}, *buf);
                }
                keep(buf->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = "seal_1420_pps"};
}

Case aead_open() {
  auto aead = std::make_shared<crypto::ChaCha20Poly1305>(fixed_key(1));
  auto sealed = std::make_shared<Bytes>(kPacket + crypto::kAeadTagBytes);
  Bytes plain(kPacket, 0x42);
  aead->seal(7, plain, {}, *sealed);
  auto out = std::make_shared<Bytes>(kPacket);
  return {.name = "open_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i)
                  check(aead->open(7, *sealed, {}, *out), "open failed");
                keep(out->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

wireguard::Time bench_time() { return wireguard::Time(std::chrono::hours(1000)); }

Case keypair_seal() {
  auto keypair = std::make_shared<wireguard::Keypair>(fixed_key(1), fixed_key(2), 1, 2, true, bench_time());
  auto packet = std::make_shared<Bytes>(kPacket, 0x45);
  auto out = std::make_shared<Bytes>(wireguard::transport_message_size(kPacket, kPacket));
  return {.name = "keypair_seal_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
                  check(keypair->seal(*packet, kPacket, *out).has_value(), "Keypair::seal failed");
                }
                keep(out->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = "keypair_seal_1420_pps"};
}

// Messages sealed by the peer's keypair (its send key is our receive key),
// counters 0..n-1. 256 x 1456 bytes stay in the L2 cache, as a batch of
// packets from one recvmmsg would.
constexpr std::size_t kOpenMessages = 256;

Case keypair_open() {
  struct State {
    std::vector<Bytes> messages;
    std::optional<wireguard::Keypair> keypair;
    Bytes out = Bytes(kPacket + 16);
  };
  auto state = std::make_shared<State>();
  wireguard::Keypair peer(fixed_key(2), fixed_key(1), 2, 1, true, bench_time());
  const Bytes packet(kPacket, 0x45);
  for (std::size_t i = 0; i < kOpenMessages; ++i) {
    Bytes message(wireguard::transport_message_size(kPacket, kPacket));
    check(peer.seal(packet, kPacket, message).has_value(), "Keypair::seal failed");
    state->messages.push_back(std::move(message));
  }
  return {.name = "keypair_open_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [state] {
                for (const Bytes& message : state->messages) {
                  const auto parsed = wireguard::parse_transport_data(message);
                  check(parsed.has_value(), "parse_transport_data failed");
                  const auto size = state->keypair->open(*parsed, state->out);
                  check(size == kPacket, "Keypair::open failed");
                }
                keep(state->out.data());
                return kOpenMessages;
              },
          // The replay window has seen every counter: a fresh keypair (two
          // EVP contexts, about 1 µs) for each pass, untimed.
          .prepare = [state] { state->keypair.emplace(fixed_key(1), fixed_key(2), 1, 2, false, bench_time()); },
          .also_per_second = "keypair_open_1420_pps"};
}

// ------------------------------------------------------------ references

struct EvpCtx {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EvpCtx() { check(ctx != nullptr, "EVP_CIPHER_CTX_new failed"); }
  EvpCtx(const EvpCtx&) = delete;
  EvpCtx& operator=(const EvpCtx&) = delete;
  ~EvpCtx() { EVP_CIPHER_CTX_free(ctx); }
};

// One packet as ChaCha20Poly1305::seal does it, with the key already set.
void evp_seal_keyset(EVP_CIPHER_CTX* ctx, std::uint64_t counter, std::uint8_t* buf, std::size_t size) {
  const crypto::AeadNonce nonce = crypto::wireguard_nonce(counter);
  int n = 0;
  check(EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce.data()) == 1, "EVP init");
  check(EVP_EncryptUpdate(ctx, buf, &n, buf, static_cast<int>(size)) == 1, "EVP update");
  check(EVP_EncryptFinal_ex(ctx, buf + size, &n) == 1, "EVP final");
  check(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, buf + size) == 1, "EVP tag");
}

Case evp_keyonce() {
  auto ctx = std::make_shared<EvpCtx>();
  const crypto::KeyBytes key = fixed_key(1);
  check(EVP_EncryptInit_ex(ctx->ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) == 1, "EVP init");
  auto buf = std::make_shared<Bytes>(kPacket + 16, 0x42);
  auto counter = std::make_shared<std::uint64_t>(0);
  return {.name = "evp_keyonce_seal_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i)
                  evp_seal_keyset(ctx->ctx, (*counter)++, buf->data(), kPacket);
                keep(buf->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

// What `openssl speed -aead -evp chacha20-poly1305 -bytes 1420` runs in
// Debian's OpenSSL 3.0.19 (bench/wireguard.sh's "openssl-aead-seal-1420"):
// although -aead selects the AEAD buffer sizes, the loop is the plain
// EVP_Update_loop, i.e. EVP_EncryptUpdate of 1420 bytes at a time into one
// endless message. Per packet it does no nonce, no Poly1305 key, no final
// block and no tag (an LD_PRELOAD count over a 1 s run: 915,880 updates, 59
// inits, 1 final). A streaming figure, not a per-packet one.
Case evp_stream() {
  auto ctx = std::make_shared<EvpCtx>();
  const crypto::KeyBytes key = fixed_key(1);
  const crypto::AeadNonce nonce{};
  check(EVP_EncryptInit_ex(ctx->ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nonce.data()) == 1, "EVP init");
  auto buf = std::make_shared<Bytes>(kPacket + 16, 0x42);
  return {
      .name = "evp_stream_1420",
      .unit = "MB/s",
      .bytes_per_op = kPacket,
      .batch =
          [=] {
            int n = 0;
            for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
              check(EVP_EncryptUpdate(ctx->ctx, buf->data(), &n, buf->data(), static_cast<int>(kPacket)) == 1,
                    "EVP update");
            }
            keep(buf->data());
            return kPacketsPerBatch;
          },
      // 2^32 blocks of 64 bytes per nonce: start a new message long
      // before (as speed does when an update fails).
      .prepare = [=] { check(EVP_EncryptInit_ex(ctx->ctx, nullptr, nullptr, nullptr, nonce.data()) == 1, "EVP init"); },
      .also_per_second = ""};
}

Case evp_oneshot() {
  auto ctx = std::make_shared<EvpCtx>();
  auto buf = std::make_shared<Bytes>(kPacket + 16, 0x42);
  auto counter = std::make_shared<std::uint64_t>(0);
  return {.name = "evp_oneshot_seal_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                static const crypto::KeyBytes key = fixed_key(1);
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
                  check(EVP_EncryptInit_ex(ctx->ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr) == 1,
                        "EVP init");
                  evp_seal_keyset(ctx->ctx, (*counter)++, buf->data(), kPacket);
                }
                keep(buf->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

Case sodium_seal() {
  auto buf = std::make_shared<Bytes>(kPacket + 16, 0x42);
  auto counter = std::make_shared<std::uint64_t>(0);
  return {.name = "sodium_seal_1420",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                static const crypto::KeyBytes key = fixed_key(1);
                unsigned long long written = 0;
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i) {
                  const crypto::AeadNonce nonce = crypto::wireguard_nonce((*counter)++);
                  crypto_aead_chacha20poly1305_ietf_encrypt(buf->data(), &written, buf->data(), kPacket, nullptr, 0,
                                                            nullptr, nonce.data(), key.data());
                }
                keep(buf->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

// -------------------------------------------------------------- prototype

// A faster ChaCha20Poly1305 with the same interface (counter overloads
// only, no AAD: all the data path uses), to measure what src/crypto/
// aead.cpp could gain. The class pays, per packet, for EVP_CipherInit_ex
// (OpenSSL 3.0: the generic init path, which also asks the provider for the
// IV length through an OSSL_PARAM lookup) and for EVP_CIPHER_CTX_ctrl
// (GET_TAG / SET_TAG, each built into an OSSL_PARAM). Here, while the
// direction stays the same, the nonce goes in through the provider's
// "tlsivfixed" parameter instead: for chacha20-poly1305 it writes the 96-bit
// nonce into the ChaCha20 state, and since EVP_CipherFinal_ex leaves the
// AEAD with mac_inited = 0, the next update derives the new Poly1305 key
// from it exactly as an init would (providers/implementations/ciphers/
// cipher_chacha20_poly1305_hw.c). The tag moves through one
// EVP_CIPHER_CTX_get_params/set_params call (on open together with the
// nonce). A change of direction, and the first use, take the full init.
// main() checks the output against ChaCha20Poly1305 before measuring.
class ProtoAead {
 public:
  explicit ProtoAead(const crypto::KeyBytes& key) : ctx_(EVP_CIPHER_CTX_new()) {
    check(ctx_ != nullptr, "EVP_CIPHER_CTX_new failed");
    check(EVP_CipherInit_ex(ctx_, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr, 1) == 1, "EVP init");
  }
  ProtoAead(const ProtoAead&) = delete;
  ProtoAead& operator=(const ProtoAead&) = delete;
  ~ProtoAead() { EVP_CIPHER_CTX_free(ctx_); }

  void seal(std::uint64_t counter, std::span<const std::uint8_t> plaintext, std::span<std::uint8_t> out) {
    check(out.size() == plaintext.size() + crypto::kAeadTagBytes, "ProtoAead::seal: wrong out size");
    crypto::AeadNonce nonce = crypto::wireguard_nonce(counter);
    if (direction_ != 1) {
      check(EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), 1) == 1, "EVP init");
      direction_ = 1;
    } else {
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, nonce.data(), nonce.size()),
          OSSL_PARAM_construct_end()};
      check(EVP_CIPHER_CTX_set_params(ctx_, params) == 1, "EVP set nonce");
    }
    int written = 0;
    check(EVP_CipherUpdate(ctx_, out.data(), &written, plaintext.data(), static_cast<int>(plaintext.size())) == 1,
          "EVP update");
    check(EVP_CipherFinal_ex(ctx_, out.data() + plaintext.size(), &written) == 1, "EVP final");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, out.data() + plaintext.size(),
                                                             crypto::kAeadTagBytes),
                           OSSL_PARAM_construct_end()};
    check(EVP_CIPHER_CTX_get_params(ctx_, params) == 1, "EVP get tag");
  }

  bool open(std::uint64_t counter, std::span<const std::uint8_t> sealed, std::span<std::uint8_t> out) {
    if (sealed.size() < crypto::kAeadTagBytes) return false;
    const std::size_t size = sealed.size() - crypto::kAeadTagBytes;
    check(out.size() == size, "ProtoAead::open: wrong out size");
    crypto::AeadNonce nonce = crypto::wireguard_nonce(counter);
    std::array<std::uint8_t, crypto::kAeadTagBytes> tag{};
    std::copy_n(sealed.begin() + static_cast<std::ptrdiff_t>(size), tag.size(), tag.begin());
    if (direction_ != 0) {
      check(EVP_CipherInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data(), 0) == 1, "EVP init");
      direction_ = 0;
      OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
                             OSSL_PARAM_construct_end()};
      check(EVP_CIPHER_CTX_set_params(ctx_, params) == 1, "EVP set tag");
    } else {
      OSSL_PARAM params[] = {
          OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, nonce.data(), nonce.size()),
          OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag.data(), tag.size()),
          OSSL_PARAM_construct_end()};
      check(EVP_CIPHER_CTX_set_params(ctx_, params) == 1, "EVP set nonce and tag");
    }
    int written = 0;
    check(EVP_CipherUpdate(ctx_, out.data(), &written, sealed.data(), static_cast<int>(size)) == 1, "EVP update");
    if (EVP_CipherFinal_ex(ctx_, out.data() + size, &written) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return false;
    }
    return true;
  }

 private:
  EVP_CIPHER_CTX* ctx_;
  int direction_ = -1;  // 1 seal, 0 open, -1 no nonce set yet
};

// The prototype against the class: the same bytes for a run of counters and
// sizes (0, partial blocks, 1420) in both directions and after direction
// changes, and tampered messages refused.
void check_prototype() {
  crypto::ChaCha20Poly1305 reference(fixed_key(9));
  ProtoAead proto(fixed_key(9));
  for (std::uint64_t counter = 0; counter < 40; ++counter) {
    const std::size_t size = std::array<std::size_t, 5>{0, 1, 63, 64, kPacket}[counter % 5];
    Bytes plain(size);
    for (std::size_t i = 0; i < size; ++i) plain[i] = static_cast<std::uint8_t>(i * 31 + counter);
    Bytes expected(size + 16);
    Bytes got(size + 16);
    reference.seal(counter, plain, {}, expected);
    proto.seal(counter, plain, got);
    check(got == expected, "prototype: sealed bytes differ from ChaCha20Poly1305");
    if (counter % 3 == 0) continue;  // seal twice in a row sometimes
    Bytes opened(size);
    check(proto.open(counter, expected, opened) && opened == plain, "prototype: open failed");
    expected[counter % expected.size()] ^= 1;
    check(!proto.open(counter, expected, opened), "prototype: opened a tampered message");
  }
}

Case proto_seal() {
  auto aead = std::make_shared<ProtoAead>(fixed_key(1));
  auto buf = std::make_shared<Bytes>(kPacket + crypto::kAeadTagBytes, 0x42);
  auto counter = std::make_shared<std::uint64_t>(0);
  return {.name = "seal_1420_proto",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i)
                  aead->seal((*counter)++, std::span(buf->data(), kPacket), *buf);
                keep(buf->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

Case proto_open() {
  auto aead = std::make_shared<ProtoAead>(fixed_key(1));
  auto sealed = std::make_shared<Bytes>(kPacket + crypto::kAeadTagBytes);
  crypto::ChaCha20Poly1305(fixed_key(1)).seal(7, Bytes(kPacket, 0x42), {}, *sealed);
  auto out = std::make_shared<Bytes>(kPacket);
  return {.name = "open_1420_proto",
          .unit = "MB/s",
          .bytes_per_op = kPacket,
          .batch =
              [=] {
                for (std::size_t i = 0; i < kPacketsPerBatch; ++i) check(aead->open(7, *sealed, *out), "open failed");
                keep(out->data());
                return kPacketsPerBatch;
              },
          .prepare = {},
          .also_per_second = ""};
}

// ------------------------------------------------------------- handshakes

struct Capture final : wireguard::EngineOutput {
  std::deque<Bytes> sent;
  std::size_t delivered = 0;
  void send(const wireguard::Endpoint&, std::span<const std::uint8_t> message) override {
    sent.emplace_back(message.begin(), message.end());
  }
  void deliver(std::span<const std::uint8_t>) override { ++delivered; }
};

// Two engines that know each other; every batch op is one complete
// handshake started by A's packet: initiation, response, and the packet
// itself (the first transport message, which confirms the session at B).
// The fake clocks jump past REJECT_AFTER_TIME before each, so that A's
// session is dead and the next packet must start a new handshake (and the
// initiation rate limit and timestamp check pass).
Case engine_handshakes() {
  struct State {
    wireguard::Time now = bench_time();
    std::chrono::system_clock::time_point wall{std::chrono::seconds(1'800'000'000)};
    std::optional<wireguard::Engine> a;
    std::optional<wireguard::Engine> b;
    Capture out_a;
    Capture out_b;
    wireguard::Endpoint from_a = *wireguard::Endpoint::parse("127.0.0.1:51820");
    wireguard::Endpoint from_b = *wireguard::Endpoint::parse("127.0.0.1:51821");
    Bytes packet;
  };
  auto s = std::make_shared<State>();
  wireguard::EngineOptions options;
  // A plain pointer: the state owns the engines (a shared_ptr here would
  // be a cycle).
  options.wall_clock = [state = s.get()] { return state->wall; };
  s->a.emplace(options);
  s->b.emplace(options);
  const crypto::SecretKey key_a = crypto::SecretKey::generate();
  const crypto::SecretKey key_b = crypto::SecretKey::generate();
  wireguard::DeviceSettings a;
  a.interface.private_key = key_a;
  wireguard::PeerSettings a_peer;
  a_peer.public_key = key_b.public_key();
  a_peer.endpoint = s->from_b;
  a_peer.allowed_ips = {*base::Cidr::parse("10.42.0.2/32")};
  a.peers.push_back(a_peer);
  wireguard::DeviceSettings b;
  b.interface.private_key = key_b;
  wireguard::PeerSettings b_peer;
  b_peer.public_key = key_a.public_key();
  b_peer.allowed_ips = {*base::Cidr::parse("10.42.0.1/32")};
  b.peers.push_back(b_peer);
  s->a->configure(a, s->now, s->out_a);
  s->b->configure(b, s->now, s->out_b);
  // A 100-byte IPv4 packet from 10.42.0.1 to 10.42.0.2.
  s->packet.assign(100, 0xab);
  const std::uint8_t header[20] = {0x45, 0, 0, 100, 0, 0, 0, 0, 64, 17, 0, 0, 10, 42, 0, 1, 10, 42, 0, 2};
  std::copy(std::begin(header), std::end(header), s->packet.begin());

  return {.name = "handshakes",
          .unit = "1/s",
          .bytes_per_op = 0,
          .batch =
              [s] {
                constexpr std::size_t kHandshakes = 4;
                for (std::size_t i = 0; i < kHandshakes; ++i) {
                  s->now += std::chrono::seconds(200);
                  s->wall += std::chrono::seconds(200);
                  const std::size_t before = s->out_b.delivered;
                  s->a->send_packet(s->packet, s->now, s->out_a);
                  for (int round = 0; round < 4 && (!s->out_a.sent.empty() || !s->out_b.sent.empty()); ++round) {
                    for (; !s->out_a.sent.empty(); s->out_a.sent.pop_front()) {
                      s->b->receive_datagram(s->out_a.sent.front(), s->from_a, s->now, s->out_b);
                    }
                    for (; !s->out_b.sent.empty(); s->out_b.sent.pop_front()) {
                      s->a->receive_datagram(s->out_b.sent.front(), s->from_b, s->now, s->out_a);
                    }
                  }
                  check(s->out_b.delivered == before + 1, "engine handshake did not deliver the packet");
                }
                return kHandshakes;
              },
          .prepare = {},
          .also_per_second = ""};
}

Case noise_handshakes() {
  struct State {
    wireguard::LocalIdentity initiator{crypto::SecretKey::generate()};
    wireguard::LocalIdentity responder{crypto::SecretKey::generate()};
    std::optional<wireguard::Handshake> i;
    std::optional<wireguard::Handshake> r;
    wireguard::Time now = bench_time();
    std::chrono::system_clock::time_point wall{std::chrono::seconds(1'800'000'000)};
    std::uint32_t index = 1;
  };
  auto s = std::make_shared<State>();
  s->i.emplace(s->initiator, s->responder.public_key());
  s->r.emplace(s->responder, s->initiator.public_key());
  return {.name = "noise_handshakes",
          .unit = "1/s",
          .bytes_per_op = 0,
          .batch =
              [s] {
                constexpr std::size_t kHandshakes = 4;
                for (std::size_t n = 0; n < kHandshakes; ++n) {
                  s->now += std::chrono::seconds(1);
                  s->wall += std::chrono::seconds(1);
                  const auto initiation = s->i->create_initiation(s->initiator, s->index++, wireguard::tai64n(s->wall));
                  check(initiation.has_value(), "create_initiation failed");
                  const auto opened = wireguard::open_initiation(s->responder, *initiation);
                  check(opened.has_value(), "open_initiation failed");
                  check(s->r->consume_initiation(*opened, s->now).has_value(), "consume_initiation failed");
                  const auto response = s->r->create_response(s->index++);
                  check(response.has_value(), "create_response failed");
                  check(s->i->consume_response(s->initiator, *response).has_value(), "consume_response failed");
                  const auto ki = s->i->derive_keys();
                  const auto kr = s->r->derive_keys();
                  check(ki && kr && ki->send_key == kr->receive_key, "derive_keys failed or keys differ");
                }
                return kHandshakes;
              },
          .prepare = {},
          .also_per_second = ""};
}

Case x25519_variable() {
  auto ours = std::make_shared<crypto::SecretKey>(crypto::SecretKey::generate());
  auto theirs = std::make_shared<crypto::PublicKey>(crypto::SecretKey::generate().public_key());
  return {.name = "x25519",
          .unit = "ops/s",
          .bytes_per_op = 0,
          .batch =
              [=] {
                constexpr std::size_t kOps = 16;
                for (std::size_t i = 0; i < kOps; ++i) {
                  const auto shared = crypto::x25519(*ours, *theirs);
                  check(shared.has_value(), "x25519 failed");
                  keep(shared->bytes().data());
                }
                return kOps;
              },
          .prepare = {},
          .also_per_second = ""};
}

Case x25519_base() {
  auto ours = std::make_shared<crypto::SecretKey>(crypto::SecretKey::generate());
  return {.name = "x25519_base",
          .unit = "ops/s",
          .bytes_per_op = 0,
          .batch =
              [=] {
                constexpr std::size_t kOps = 16;
                for (std::size_t i = 0; i < kOps; ++i) {
                  const crypto::PublicKey pub = ours->public_key();
                  keep(pub.bytes().data());
                }
                return kOps;
              },
          .prepare = {},
          .also_per_second = ""};
}

// ------------------------------------------------------------------ main

void usage(std::FILE* to) {
  std::fputs(
      "usage: coral-wireguard-bench [--seconds N] [--reps R] [--only NAME]...\n"
      "  --seconds N   CPU seconds per figure and rep (default 3; fractions allowed)\n"
      "  --reps R      run every case R times, interleaved, and print the median (default 1)\n"
      "  --only NAME   only this case (repeatable; the names are the metrics, without _pps)\n"
      "Pin it to one core: taskset -c 1 coral-wireguard-bench. Output: \"<metric> <value> <unit>\" lines.\n",
      to);
}

std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || !(value > 0)) return std::nullopt;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int reps = 1;
  std::vector<std::string> only;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    } else if (arg == "--seconds" && has_value) {
      const auto v = parse_number(argv[++i]);
      if (!v) return usage(stderr), 2;
      seconds = *v;
    } else if (arg == "--reps" && has_value) {
      const auto v = parse_number(argv[++i]);
      if (!v || *v != static_cast<int>(*v)) return usage(stderr), 2;
      reps = static_cast<int>(*v);
    } else if (arg == "--only" && has_value) {
      only.emplace_back(argv[++i]);
    } else {
      usage(stderr);
      return 2;
    }
  }
  if (sodium_init() < 0) fail("sodium_init failed");

  check_prototype();

  std::vector<Case> cases = {aead_seal(),         aead_open(),        keypair_seal(),    keypair_open(), evp_keyonce(),
                             evp_stream(),        evp_oneshot(),      sodium_seal(),     proto_seal(),   proto_open(),
                             engine_handshakes(), noise_handshakes(), x25519_variable(), x25519_base()};
  if (!only.empty()) {
    std::erase_if(cases, [&](const Case& c) { return std::find(only.begin(), only.end(), c.name) == only.end(); });
    if (cases.size() != only.size()) fail("--only: unknown case name (see the header of bench/wireguard_core.cpp)");
  }

  double load[3] = {};
  if (getloadavg(load, 3) == 3)
    std::fprintf(stderr, "load average at start: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  std::vector<std::vector<double>> rates(cases.size());
  const double warmup = std::min(0.3, seconds / 10);
  for (int rep = 0; rep < reps; ++rep) {
    for (std::size_t k = 0; k < cases.size(); ++k) {
      const Case& c = cases[k];
      run_for(c, warmup);
      const Sample s = run_for(c, seconds);
      const double per_second = s.ops / s.cpu;
      rates[k].push_back(per_second);
      std::fprintf(stderr, "  rep %d %-26s %12.0f ops/s  %9.1f ns/op  cpu %.2f s / wall %.2f s\n", rep + 1,
                   c.name.c_str(), per_second, 1e9 / per_second, s.cpu, s.wall);
    }
  }
  if (getloadavg(load, 3) == 3)
    std::fprintf(stderr, "load average at end: %.2f %.2f %.2f\n", load[0], load[1], load[2]);
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    const double per_second = median(rates[k]);
    if (c.bytes_per_op > 0) {
      std::printf("%s %.1f %s\n", c.name.c_str(), per_second * static_cast<double>(c.bytes_per_op) / 1e6,
                  c.unit.c_str());
      if (!c.also_per_second.empty()) std::printf("%s %.0f packets/s\n", c.also_per_second.c_str(), per_second);
    } else {
      std::printf("%s %.0f %s\n", c.name.c_str(), per_second, c.unit.c_str());
    }
  }
  return 0;
}
