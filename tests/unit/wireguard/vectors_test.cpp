// Replays handshakes recorded against Debian's wireguard-go
// (tests/vectors/wireguard/wireguard_go_handshake.txt, made by
// tools/wg-vectors/record.sh) through coral's protocol core, with no
// network: what wireguard-go sent must open, and what coral sent must come
// out byte for byte the same from the same fixed keys.
//
// The vector file is found through, in order: $CORAL_WG_VECTORS (the file),
// $CORAL_SOURCE_DIR or a CORAL_SOURCE_DIR compile definition (the source
// tree), then this source file's path (__FILE__, which ccache's base_dir
// makes relative to the build directory: tried from every ancestor of the
// test binary's directory).

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/aead.h"
#include "wireguard/cookie.h"
#include "wireguard/messages.h"
#include "wireguard/noise.h"

namespace coral::wireguard {
namespace {

using crypto::PublicKey;
using crypto::SecretKey;
using Bytes = std::vector<std::uint8_t>;
using Section = std::map<std::string, std::string>;
namespace fs = std::filesystem;

constexpr std::string_view kVectorPath = "tests/vectors/wireguard/wireguard_go_handshake.txt";

std::vector<fs::path> candidate_paths() {
  std::vector<fs::path> paths;
  if (const char* file = std::getenv("CORAL_WG_VECTORS")) paths.emplace_back(file);
  if (const char* root = std::getenv("CORAL_SOURCE_DIR")) paths.push_back(fs::path(root) / kVectorPath);
#ifdef CORAL_SOURCE_DIR
  paths.push_back(fs::path(CORAL_SOURCE_DIR) / kVectorPath);
#endif
  // <root>/tests/unit/wireguard/vectors_test.cpp -> <root>/tests/vectors/...
  const fs::path self(__FILE__);
  const fs::path relative = self.parent_path() / "../../vectors/wireguard/wireguard_go_handshake.txt";
  if (relative.is_absolute()) {
    paths.push_back(relative);
  } else {
    // Relative to the directory the compiler ran in: some ancestor of the
    // test binary (or of the working directory).
    std::error_code error;
    const fs::path exe = fs::read_symlink("/proc/self/exe", error);
    for (fs::path start : {error ? fs::path() : exe.parent_path(), fs::current_path()}) {
      for (fs::path dir = start; !dir.empty(); dir = dir.parent_path()) {
        paths.push_back(dir / relative);
        if (dir == dir.root_path()) break;
      }
    }
  }
  return paths;
}

Bytes from_hex(const std::string& hex) {
  Bytes bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

crypto::KeyBytes key_bytes(const std::string& hex) {
  const Bytes bytes = from_hex(hex);
  crypto::KeyBytes out{};
  if (bytes.size() != out.size()) ADD_FAILURE() << "not a 32-byte key: " << hex;
  std::copy_n(bytes.begin(), std::min(bytes.size(), out.size()), out.begin());
  return out;
}

struct Vectors {
  Section globals;
  std::vector<std::pair<std::string, Section>> sections;
};

// "key = value" lines, '#' comments, "[name]" starts a section.
Vectors load() {
  Vectors vectors;
  std::string tried;
  for (const fs::path& path : candidate_paths()) {
    std::ifstream in(path);
    if (!in) {
      tried += " " + path.string();
      continue;
    }
    Section* current = &vectors.globals;
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#') continue;
      if (line[0] == '[') {
        vectors.sections.emplace_back(line.substr(1, line.find(']') - 1), Section{});
        current = &vectors.sections.back().second;
        continue;
      }
      const auto equals = line.find(" =");
      if (equals == std::string::npos) continue;
      std::string value = line.substr(equals + 2);
      if (!value.empty() && value[0] == ' ') value.erase(0, 1);
      (*current)[line.substr(0, equals)] = value;
    }
    return vectors;
  }
  ADD_FAILURE() << "vector file not found; tried" << tried;
  return vectors;
}

const std::string& field(const Section& section, const std::string& key) {
  static const std::string empty;
  const auto it = section.find(key);
  if (it == section.end()) {
    ADD_FAILURE() << "missing " << key;
    return empty;
  }
  return it->second;
}

std::optional<SecretKey> preshared_key(const Section& section) {
  const std::string& hex = field(section, "preshared_key");
  if (hex.empty()) return std::nullopt;
  return SecretKey(key_bytes(hex));
}

std::uint32_t index_field(const Section& section, const std::string& key) {
  return static_cast<std::uint32_t>(std::stoul(field(section, key), nullptr, 16));
}

// Checks an IPv4 ICMP packet (zero-padded to a multiple of 16) and returns
// its ICMP type.
int icmp_type(const Bytes& plaintext, std::array<std::uint8_t, 4> source, std::array<std::uint8_t, 4> destination) {
  EXPECT_EQ(plaintext.size() % kPaddingMultiple, 0U);
  if (plaintext.size() < 28) {
    ADD_FAILURE() << "too short for IPv4 + ICMP";
    return -1;
  }
  EXPECT_EQ(plaintext[0], 0x45) << "IPv4, 20-byte header";
  EXPECT_EQ(plaintext[9], 1) << "ICMP";
  EXPECT_TRUE(std::equal(source.begin(), source.end(), plaintext.begin() + 12));
  EXPECT_TRUE(std::equal(destination.begin(), destination.end(), plaintext.begin() + 16));
  const std::size_t total = static_cast<std::size_t>(plaintext[2] << 8 | plaintext[3]);
  EXPECT_LE(total, plaintext.size());
  EXPECT_GT(total + kPaddingMultiple, plaintext.size()) << "padding is less than 16 bytes";
  for (std::size_t i = total; i < plaintext.size(); ++i) EXPECT_EQ(plaintext[i], 0) << "padding byte " << i;
  return plaintext[20];
}

class WireguardGoVectors : public ::testing::Test {
 protected:
  void SetUp() override {
    vectors_ = load();
    coral_ = std::make_unique<LocalIdentity>(SecretKey(key_bytes(field(vectors_.globals, "coral_private"))));
    wireguard_go_ = PublicKey(key_bytes(field(vectors_.globals, "wireguard_go_public")));
  }

  std::vector<const Section*> sections(std::string_view role) const {
    std::vector<const Section*> out;
    for (const auto& [name, section] : vectors_.sections) {
      if (name.starts_with(role)) out.push_back(&section);
    }
    return out;
  }

  Vectors vectors_;
  std::unique_ptr<LocalIdentity> coral_;
  PublicKey wireguard_go_;
};

TEST_F(WireguardGoVectors, FileHoldsBothRolesWithAndWithoutPresharedKey) {
  EXPECT_EQ(coral_->public_key().to_base64(), "QtTU5WMYA3dQ0DJclQOwfak9IYESIvbNVNfBa2Is7hQ=");
  EXPECT_EQ(wireguard_go_.to_base64(), "/eAmitXSJn6/BExujAnPtyw6bNYfg4HVFQfkmxzyenQ=");
  ASSERT_EQ(sections("responder").size(), 2U);
  ASSERT_EQ(sections("initiator").size(), 2U);
  int with_psk = 0;
  for (const auto& [name, section] : vectors_.sections) with_psk += preshared_key(section).has_value() ? 1 : 0;
  EXPECT_EQ(with_psk, 2);
}

// wireguard-go initiated; coral responded.
TEST_F(WireguardGoVectors, CoralAsResponder) {
  for (const Section* section : sections("responder")) {
    SCOPED_TRACE(field(*section, "preshared_key").empty() ? "no preshared key" : "preshared key");
    const Bytes initiation_bytes = from_hex(field(*section, "initiation"));
    CookieChecker checker(coral_->public_key());
    EXPECT_TRUE(checker.check_mac1(initiation_bytes)) << "wireguard-go's mac1";
    const auto initiation = parse_initiation(initiation_bytes);
    ASSERT_TRUE(initiation);
    auto opened = open_initiation(*coral_, *initiation);
    ASSERT_TRUE(opened) << to_string(opened.error());
    EXPECT_EQ(opened->initiator_static(), wireguard_go_);

    Handshake handshake(*coral_, wireguard_go_, preshared_key(*section));
    ASSERT_TRUE(handshake.consume_initiation(*opened, Time()));
    // wireguard-go stamps with wall-clock time: a date in 2026 or later.
    const Tai64n& stamp = handshake.latest_timestamp();
    std::uint64_t seconds = 0;
    for (std::size_t i = 0; i < 8; ++i) seconds = seconds << 8 | stamp[i];
    EXPECT_GT(seconds, 0x400000000000000aULL + 1767225600ULL);

    const std::uint32_t local_index = index_field(*section, "responder_index");
    const SecretKey ephemeral(key_bytes(field(*section, "responder_ephemeral_private")));
    const auto response = handshake.create_response(local_index, ephemeral);
    ASSERT_TRUE(response);
    auto response_bytes = serialize(*response);
    CookieGenerator generator(wireguard_go_);
    generator.add_macs(response_bytes, Time());
    EXPECT_EQ(Bytes(response_bytes.begin(), response_bytes.end()), from_hex(field(*section, "response")));

    const auto keys = handshake.derive_keys();
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->send_key.bytes(), key_bytes(field(*section, "send_key")));
    EXPECT_EQ(keys->receive_key.bytes(), key_bytes(field(*section, "receive_key")));
    EXPECT_EQ(keys->local_index, local_index);
    EXPECT_EQ(keys->remote_index, initiation->sender_index);
    EXPECT_FALSE(keys->initiator);

    // wireguard-go's first transport message: the ping that started it.
    const Bytes transport_bytes = from_hex(field(*section, "transport_in"));
    const auto transport = parse_transport_data(transport_bytes);
    ASSERT_TRUE(transport);
    EXPECT_EQ(transport->receiver_index, local_index);
    EXPECT_EQ(transport->counter, 0U);
    Bytes plaintext(transport->encrypted.size() - crypto::kAeadTagBytes);
    crypto::ChaCha20Poly1305 receiver(keys->receive_key.bytes());
    ASSERT_TRUE(receiver.open(transport->counter, transport->encrypted, {}, plaintext));
    EXPECT_EQ(plaintext, from_hex(field(*section, "plaintext_in")));
    EXPECT_EQ(icmp_type(plaintext, {10, 99, 0, 1}, {10, 99, 0, 2}), 8) << "echo request";

    // The same initiation again is a replay.
    auto again = open_initiation(*coral_, *initiation);
    ASSERT_TRUE(again);
    EXPECT_EQ(handshake.consume_initiation(*again, Time() + std::chrono::seconds(1)).error(),
              HandshakeError::replayed_timestamp);
  }
}

// coral initiated; wireguard-go responded and answered a ping.
TEST_F(WireguardGoVectors, CoralAsInitiator) {
  for (const Section* section : sections("initiator")) {
    SCOPED_TRACE(field(*section, "preshared_key").empty() ? "no preshared key" : "preshared key");
    Handshake handshake(*coral_, wireguard_go_, preshared_key(*section));
    const std::uint32_t local_index = index_field(*section, "initiator_index");
    const Bytes stamp_bytes = from_hex(field(*section, "timestamp"));
    ASSERT_EQ(stamp_bytes.size(), kTai64nBytes);
    Tai64n stamp{};
    std::copy(stamp_bytes.begin(), stamp_bytes.end(), stamp.begin());
    EXPECT_EQ(stamp, tai64n(std::chrono::system_clock::time_point(std::chrono::seconds(1767225600))));
    const SecretKey ephemeral(key_bytes(field(*section, "initiator_ephemeral_private")));
    const auto initiation = handshake.create_initiation(*coral_, local_index, stamp, ephemeral);
    ASSERT_TRUE(initiation);
    auto initiation_bytes = serialize(*initiation);
    CookieGenerator generator(wireguard_go_);
    generator.add_macs(initiation_bytes, Time());
    EXPECT_EQ(Bytes(initiation_bytes.begin(), initiation_bytes.end()), from_hex(field(*section, "initiation")));

    const Bytes response_bytes = from_hex(field(*section, "response"));
    EXPECT_TRUE(CookieChecker(coral_->public_key()).check_mac1(response_bytes)) << "wireguard-go's mac1";
    const auto response = parse_response(response_bytes);
    ASSERT_TRUE(response);
    EXPECT_EQ(response->receiver_index, local_index);
    ASSERT_TRUE(handshake.consume_response(*coral_, *response));
    const auto keys = handshake.derive_keys();
    ASSERT_TRUE(keys);
    EXPECT_EQ(keys->send_key.bytes(), key_bytes(field(*section, "send_key")));
    EXPECT_EQ(keys->receive_key.bytes(), key_bytes(field(*section, "receive_key")));
    EXPECT_EQ(keys->remote_index, response->sender_index);
    EXPECT_TRUE(keys->initiator);

    // Our ping, sealed as coral sent it (wireguard-go answered it, so it
    // opened there).
    const Bytes ping = from_hex(field(*section, "plaintext_out"));
    EXPECT_EQ(icmp_type(ping, {10, 99, 0, 2}, {10, 99, 0, 1}), 8);
    Bytes transport_out(kTransportDataHeaderBytes + ping.size() + crypto::kAeadTagBytes);
    write_transport_header(keys->remote_index, 0, std::span(transport_out).first<kTransportDataHeaderBytes>());
    crypto::ChaCha20Poly1305 sender(keys->send_key.bytes());
    sender.seal(0, ping, {}, std::span(transport_out).subspan(kTransportDataHeaderBytes));
    EXPECT_EQ(transport_out, from_hex(field(*section, "transport_out")));

    // wireguard-go's echo reply.
    const Bytes transport_bytes = from_hex(field(*section, "transport_in"));
    const auto transport = parse_transport_data(transport_bytes);
    ASSERT_TRUE(transport);
    EXPECT_EQ(transport->receiver_index, local_index);
    Bytes plaintext(transport->encrypted.size() - crypto::kAeadTagBytes);
    crypto::ChaCha20Poly1305 receiver(keys->receive_key.bytes());
    ASSERT_TRUE(receiver.open(transport->counter, transport->encrypted, {}, plaintext));
    EXPECT_EQ(plaintext, from_hex(field(*section, "plaintext_in")));
    EXPECT_EQ(icmp_type(plaintext, {10, 99, 0, 1}, {10, 99, 0, 2}), 0) << "echo reply";
    EXPECT_TRUE(std::equal(ping.begin() + 24, ping.end(), plaintext.begin() + 24)) << "same id, sequence, payload";
  }
}

}  // namespace
}  // namespace coral::wireguard
