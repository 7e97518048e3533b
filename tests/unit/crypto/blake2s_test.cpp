#include "crypto/blake2s.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "base/text.h"

namespace coral::crypto {
namespace {

// The inputs of the tables below, as the Python that computed them made
// them: data byte i is i % 251, key byte i is (0x80 + 3i) & 0xff.
std::vector<std::uint8_t> test_data(std::size_t size) {
  std::vector<std::uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(i % 251);
  return out;
}

std::vector<std::uint8_t> test_key(std::size_t size) {
  std::vector<std::uint8_t> out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>((0x80 + 3 * i) & 0xff);
  return out;
}

std::span<const std::uint8_t> text(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Blake2s, Rfc7693AppendixB) {
  EXPECT_EQ(base::hex(blake2s_256(text("abc"))), "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
}

struct HashVector {
  std::size_t data_bytes;
  std::size_t key_bytes;
  std::size_t out_bytes;
  const char* digest;
};

// hashlib.blake2s(test_data(d), key=test_key(k), digest_size=o).hexdigest()
// (Python 3.11). The sizes straddle block boundaries: the last block must be
// flagged as last even when it is full, and a key takes a block of its own.
constexpr HashVector kHashVectors[] = {
    {0, 0, 32, "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9"},
    {3, 0, 32, "e8f91c6ef232a041452ab0e149070cdd7dd1769e75b3a5921be37876c45c9900"},
    {1, 0, 32, "e34d74dbaf4ff4c6abd871cc220451d2ea2648846c7757fbaac82fe51ad64bea"},
    {63, 0, 32, "e57cb79487dd57902432b250733813bd96a84efce59f650fac26e6696aefafc3"},
    {64, 0, 32, "56f34e8b96557e90c1f24b52d0c89d51086acf1b00f634cf1dde9233b8eaaa3e"},
    {65, 0, 32, "1b53ee94aaf34e4b159d48de352c7f0661d0a40edff95a0b1639b4090e974472"},
    {128, 0, 32, "1fa877de67259d19863a2a34bcc6962a2b25fcbf5cbecd7ede8f1fa36688a796"},
    {129, 0, 32, "5bd169e67c82c2c2e98ef7008bdf261f2ddf30b1c00f9e7f275bb3e8a28dc9a2"},
    {1000, 0, 32, "1c067a5e746fb0f6734efac9a8cdb0e11061f0077f255184365c690115392501"},
    {0, 32, 32, "4da857d2c5758325c3857821af42b4ae9f7103058cfb504bafa56fb3b68bfc9b"},
    {0, 1, 32, "c09c22309724de53ec89d6409128bef629ab029a9c160d4d2a098a3d545f4af3"},
    {64, 32, 32, "d5ad433be15750396a2d65a0d6478659f9bc1f47b15d1cd30c4b3df11b2a5f6f"},
    {65, 32, 16, "fa743ca462cdb7e142b7e1dfd5343025"},
    {200, 16, 16, "79179aa0b8d49ee6257a5aafca92e4ac"},
    {200, 32, 1, "f0"},
    {200, 0, 20, "35ef51251df08437c4d5c7ecd7662b56d0a3f07c"},
    {64, 32, 31, "4b488cc3d9993beb1639c1861eb43941b2df1940d26158a71ca6f4285858b9"},
    {255, 7, 16, "d7799c4a4cd8b7dcd84cbc5ca8c95821"},
};

TEST(Blake2s, KeyedAndVariableLengthKnownAnswers) {
  for (const HashVector& v : kHashVectors) {
    const auto data = test_data(v.data_bytes);
    const auto key = test_key(v.key_bytes);
    std::vector<std::uint8_t> out(v.out_bytes);
    blake2s(out, data, key);
    EXPECT_EQ(base::hex(out), v.digest) << "data " << v.data_bytes << " key " << v.key_bytes << " out " << v.out_bytes;
  }
}

TEST(Blake2s, ChunkedUpdatesEqualOneShot) {
  for (const HashVector& v : kHashVectors) {
    const auto data = test_data(v.data_bytes);
    const auto key = test_key(v.key_bytes);
    for (const std::size_t chunk : {1, 7, 63, 64, 65}) {
      Blake2s hash(v.out_bytes, key);
      std::span<const std::uint8_t> rest(data);
      while (!rest.empty()) {
        const std::size_t take = std::min(chunk, rest.size());
        hash.update(rest.first(take));
        rest = rest.subspan(take);
      }
      hash.update({});  // empty updates change nothing
      std::vector<std::uint8_t> out(v.out_bytes);
      hash.finish(out);
      EXPECT_EQ(base::hex(out), v.digest) << "data " << v.data_bytes << " chunk " << chunk;
    }
  }
}

TEST(Blake2s, CopiedStateContinuesIndependently) {
  Blake2s prefix;
  prefix.update(text("ab"));
  Blake2s copy = prefix;
  copy.update(text("c"));
  Blake2sDigest digest{};
  copy.finish(digest);
  EXPECT_EQ(digest, blake2s_256(text("abc")));
  prefix.update(text("x"));
  prefix.finish(digest);
  EXPECT_EQ(digest, blake2s_256(text("abx")));
}

TEST(Blake2s, UseAfterFinishAndBadSizesAbort) {
  EXPECT_DEATH(
      {
        Blake2s hash;
        Blake2sDigest digest{};
        hash.finish(digest);
        hash.update(text("x"));
      },
      "");
  EXPECT_DEATH(Blake2s(0), "");
  EXPECT_DEATH(Blake2s(33), "");
  const auto long_key = test_key(33);
  EXPECT_DEATH(Blake2s(32, long_key), "");
  EXPECT_DEATH(
      {
        Blake2s hash(16);
        Blake2sDigest digest{};
        hash.finish(digest);  // 32 bytes asked of a 16-byte hash
      },
      "");
}

struct HmacVector {
  std::size_t key_bytes;
  std::size_t data_bytes;
  const char* mac;
};

// hmac.new(test_key(k), test_data(d), hashlib.blake2s).hexdigest(): keys
// shorter than, equal to and longer than the 64-byte block.
constexpr HmacVector kHmacVectors[] = {
    {0, 0, "eaf4bb25938f4d20e72656bbbc7a9bf63c0c18537333c35bdb67db1402661acd"},
    {32, 0, "cffcf478efb5fc91f7720de204f21a59f196c5d30f8dfb7a7cea85be2e88496b"},
    {32, 1, "6d95ef62ae0c0cde64b7c867a1cdb33db4722ff5a26b0adb154117a49e372b61"},
    {32, 33, "1ea8084be435331c477ded90301432027a36ef14d9733a727300869a96a601a1"},
    {32, 64, "f84274eb8a2c4a08c41cfe0a3550b0bf39b16b023434c443ed10e3ba56770dcc"},
    {32, 65, "bb915fc29e662dff08913230e1ef6891885d61d1bb85ed11c1233294a71bda47"},
    {64, 100, "141f75623b98f9d87e096a4a26c1a73674f0856d2e633f8f1dc0c36dcdf4fb4c"},
    {65, 100, "cfde0a8538a6ed512567090f7fb62fef38a1a92e218a1397302e938fcbfe2d11"},
    {100, 3, "2bb8dd8302c31a43e6109a340dd18f03a92a5fa31d76560910756ba0ad85c6ff"},
    {1, 1000, "43a3df9c4b322bdd319d3cdde23ded911070d7facf3b3493d1cd9c4c1a9c97c0"},
};

TEST(HmacBlake2s, KnownAnswers) {
  for (const HmacVector& v : kHmacVectors) {
    const auto key = test_key(v.key_bytes);
    const auto data = test_data(v.data_bytes);
    EXPECT_EQ(base::hex(hmac_blake2s(key, data)), v.mac) << "key " << v.key_bytes << " data " << v.data_bytes;
    HmacBlake2s mac(key);
    std::span<const std::uint8_t> rest(data);
    while (!rest.empty()) {
      const std::size_t take = std::min<std::size_t>(13, rest.size());
      mac.update(rest.first(take));
      rest = rest.subspan(take);
    }
    EXPECT_EQ(base::hex(mac.finish()), v.mac);
  }
}

// The handshake's first two values, which wireguard-go precomputes
// (InitialChainKey = HASH(CONSTRUCTION), InitialHash = HASH(that ||
// IDENTIFIER)).
TEST(Blake2s, WireGuardInitialChainKeyAndHash) {
  const Blake2sDigest chain_key = blake2s_256(text("Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"));
  EXPECT_EQ(base::hex(chain_key), "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
  Blake2s hash;
  hash.update(chain_key);
  hash.update(text("WireGuard v1 zx2c4 Jason@zx2c4.com"));
  Blake2sDigest initial_hash{};
  hash.finish(initial_hash);
  EXPECT_EQ(base::hex(initial_hash), "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
}

}  // namespace
}  // namespace coral::crypto
