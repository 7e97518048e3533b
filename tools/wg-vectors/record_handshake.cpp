// Records WireGuard known-answer vectors against a real wireguard-go, for
// tests/unit/wireguard/vectors_test.cpp. Run by record.sh inside a network
// namespace of its own, where wireguard-go (device with address 10.99.0.1,
// listening on 127.0.0.1:<wg-port>) has coral as its one peer (allowed IP
// 10.99.0.2/32, endpoint 127.0.0.1:<port>).
//
// Two exchanges, printed to stdout as sections of "key = hex" lines:
//   [responder ...]  wireguard-go initiates (record.sh pings 10.99.0.2 from
//                    the namespace). coral answers with a fixed ephemeral
//                    key; wireguard-go then sends the ping as its first
//                    transport message, which is recorded and decrypted.
//   [initiator ...]  coral initiates with a fixed ephemeral key and a fixed
//                    timestamp; wireguard-go responds; coral sends an ICMP
//                    echo request to 10.99.0.1 and records the echo reply.
// Everything coral sends is deterministic given the fixed keys, so the test
// can rebuild it byte for byte.
//
// A tool, not a library: it reads the clock, uses sockets and exits on the
// first thing that goes wrong, saying what.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/text.h"
#include "crypto/aead.h"
#include "crypto/keys.h"
#include "wireguard/cookie.h"
#include "wireguard/messages.h"
#include "wireguard/noise.h"
#include "wireguard/tai64n.h"

namespace {

using namespace coral;
using Bytes = std::vector<std::uint8_t>;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "record_handshake: %s\n", what.c_str());
  std::exit(1);
}

crypto::SecretKey secret_arg(const std::map<std::string, std::string>& args, const std::string& name) {
  const auto it = args.find(name);
  if (it == args.end()) fail("missing --" + name);
  auto key = crypto::SecretKey::from_base64(it->second);
  if (!key) fail("--" + name + ": " + key.error());
  return *key;
}

crypto::PublicKey public_arg(const std::map<std::string, std::string>& args, const std::string& name) {
  const auto it = args.find(name);
  if (it == args.end()) fail("missing --" + name);
  auto key = crypto::PublicKey::from_base64(it->second);
  if (!key) fail("--" + name + ": " + key.error());
  return *key;
}

class Socket {
 public:
  explicit Socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_DGRAM, 0)) {
    if (fd_ < 0) fail("socket: " + std::string(std::strerror(errno)));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      fail("bind 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(errno));
    }
  }
  ~Socket() { ::close(fd_); }

  // The next datagram, or exit after `timeout`.
  Bytes receive(sockaddr_in& from, std::chrono::milliseconds timeout, const char* waiting_for) {
    pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) fail(std::string("timed out waiting for ") + waiting_for);
    Bytes buffer(65536);
    socklen_t length = sizeof(from);
    const ssize_t n = ::recvfrom(fd_, buffer.data(), buffer.size(), 0, reinterpret_cast<sockaddr*>(&from), &length);
    if (n < 0) fail("recvfrom: " + std::string(std::strerror(errno)));
    buffer.resize(static_cast<std::size_t>(n));
    return buffer;
  }

  void send(std::span<const std::uint8_t> bytes, const sockaddr_in& to) {
    if (::sendto(fd_, bytes.data(), bytes.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) !=
        static_cast<ssize_t>(bytes.size())) {
      fail("sendto: " + std::string(std::strerror(errno)));
    }
  }

 private:
  int fd_;
};

wireguard::Time now() { return std::chrono::steady_clock::now(); }

// The first transport message addressed to `local_index`, skipping
// anything else (retransmitted initiations, keepalives of older sessions).
wireguard::TransportData receive_transport(Socket& socket, std::uint32_t local_index, Bytes& storage) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    sockaddr_in from{};
    storage = socket.receive(from, std::chrono::seconds(10), "a transport message");
    const auto parsed = wireguard::parse_transport_data(storage);
    if (parsed && parsed->receiver_index == local_index) return *parsed;
    std::fprintf(stderr, "record_handshake: skipping a %zu-byte message\n", storage.size());
  }
  fail("no transport message for our index");
}

Bytes open_transport(const crypto::SecretKey& key, const wireguard::TransportData& message) {
  Bytes plaintext(message.encrypted.size() - crypto::kAeadTagBytes);
  crypto::ChaCha20Poly1305 aead(key.bytes());
  if (!aead.open(message.counter, message.encrypted, {}, plaintext)) fail("transport message does not decrypt");
  return plaintext;
}

std::uint16_t checksum(std::span<const std::uint8_t> bytes) {
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += static_cast<std::uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  if (bytes.size() % 2 != 0) sum += static_cast<std::uint32_t>(bytes.back() << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// An ICMP echo request 10.99.0.2 -> 10.99.0.1 with fixed id, sequence and
// payload: 28 bytes of headers and 36 of payload, 64 in all (a multiple of
// 16, so no padding).
Bytes echo_request() {
  Bytes packet(64, 0);
  packet[0] = 0x45;
  packet[3] = 64;  // total length
  packet[4] = 0x12;
  packet[5] = 0x34;  // identification
  packet[8] = 64;    // TTL
  packet[9] = 1;     // ICMP
  const std::uint8_t source[] = {10, 99, 0, 2};
  const std::uint8_t destination[] = {10, 99, 0, 1};
  std::memcpy(&packet[12], source, 4);
  std::memcpy(&packet[16], destination, 4);
  const std::uint16_t ip_sum = checksum(std::span(packet).first(20));
  packet[10] = static_cast<std::uint8_t>(ip_sum >> 8);
  packet[11] = static_cast<std::uint8_t>(ip_sum);
  packet[20] = 8;  // echo request
  packet[24] = 0xc0;
  packet[25] = 0x7a;  // id
  packet[27] = 1;     // sequence
  const char* text = "coral wireguard-go known answers...";
  std::memcpy(&packet[28], text, std::strlen(text));
  const std::uint16_t icmp_sum = checksum(std::span(packet).subspan(20));
  packet[22] = static_cast<std::uint8_t>(icmp_sum >> 8);
  packet[23] = static_cast<std::uint8_t>(icmp_sum);
  return packet;
}

void print(const char* key, std::span<const std::uint8_t> value) { std::printf("%s = %s\n", key, base::hex(value).c_str()); }

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0) fail("unexpected argument " + name);
    args[name.substr(2)] = argv[i + 1];
  }
  const wireguard::LocalIdentity identity(secret_arg(args, "coral-private"));
  const crypto::PublicKey wg_public = public_arg(args, "wg-public");
  std::optional<crypto::SecretKey> psk;
  if (args.contains("psk")) psk = secret_arg(args, "psk");
  const crypto::SecretKey responder_ephemeral = secret_arg(args, "responder-ephemeral");
  const crypto::SecretKey initiator_ephemeral = secret_arg(args, "initiator-ephemeral");
  const std::uint16_t port = static_cast<std::uint16_t>(std::stoi(args.at("port")));
  const std::uint16_t wg_port = static_cast<std::uint16_t>(std::stoi(args.at("wg-port")));
  const std::string label = psk ? "psk" : "no-psk";
  const Bytes no_psk;
  const std::span<const std::uint8_t> psk_bytes = psk ? std::span<const std::uint8_t>(psk->bytes()) : no_psk;

  Socket socket(port);
  wireguard::CookieChecker checker(identity.public_key());
  wireguard::CookieGenerator generator(wg_public);
  wireguard::Handshake handshake(identity, wg_public, psk);

  // --- wireguard-go initiates ---
  {
    constexpr std::uint32_t kLocalIndex = 0x0c0ffee1;
    sockaddr_in from{};
    const Bytes initiation_bytes = socket.receive(from, std::chrono::seconds(15), "wireguard-go's initiation");
    const auto initiation = wireguard::parse_initiation(initiation_bytes);
    if (!initiation) fail("not an initiation: " + std::string(to_string(initiation.error())));
    if (!checker.check_mac1(initiation_bytes)) fail("initiation has a bad mac1");
    auto opened = wireguard::open_initiation(identity, *initiation);
    if (!opened) fail("open_initiation: " + std::string(to_string(opened.error())));
    if (opened->initiator_static() != wg_public) fail("initiation from another key");
    if (auto ok = handshake.consume_initiation(*opened, now()); !ok) {
      fail("consume_initiation: " + std::string(to_string(ok.error())));
    }
    const auto response = handshake.create_response(kLocalIndex, responder_ephemeral);
    if (!response) fail("create_response: " + std::string(to_string(response.error())));
    auto response_bytes = wireguard::serialize(*response);
    generator.add_macs(response_bytes, now());
    socket.send(response_bytes, from);
    const auto keys = handshake.derive_keys();
    if (!keys) fail("derive_keys");
    Bytes transport_bytes;
    const auto transport = receive_transport(socket, kLocalIndex, transport_bytes);
    const Bytes plaintext = open_transport(keys->receive_key, transport);

    std::printf("\n[responder %s]\n", label.c_str());
    print("preshared_key", psk_bytes);
    print("responder_ephemeral_private", responder_ephemeral.bytes());
    std::printf("responder_index = %08x\n", kLocalIndex);
    print("initiation", initiation_bytes);
    print("response", response_bytes);
    print("send_key", keys->send_key.bytes());
    print("receive_key", keys->receive_key.bytes());
    print("transport_in", transport_bytes);
    print("plaintext_in", plaintext);
  }

  // --- coral initiates ---
  {
    constexpr std::uint32_t kLocalIndex = 0x0c0ffee2;
    // A fixed time: wireguard-go has seen no initiation from us yet, so any
    // timestamp is newer, and a fixed one makes the initiation reproducible.
    const wireguard::Tai64n timestamp =
        wireguard::tai64n(std::chrono::system_clock::time_point(std::chrono::seconds(1767225600)));  // 2026-01-01
    const auto initiation = handshake.create_initiation(identity, kLocalIndex, timestamp, initiator_ephemeral);
    if (!initiation) fail("create_initiation: " + std::string(to_string(initiation.error())));
    auto initiation_bytes = wireguard::serialize(*initiation);
    generator.add_macs(initiation_bytes, now());
    sockaddr_in wg{};
    wg.sin_family = AF_INET;
    wg.sin_port = htons(wg_port);
    wg.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socket.send(initiation_bytes, wg);

    Bytes response_bytes;
    std::optional<wireguard::HandshakeResponse> response;
    for (int tries = 0; tries < 10 && !response; ++tries) {
      sockaddr_in from{};
      response_bytes = socket.receive(from, std::chrono::seconds(10), "wireguard-go's response");
      if (auto parsed = wireguard::parse_response(response_bytes)) response = *parsed;
    }
    if (!response) fail("no response");
    if (!checker.check_mac1(response_bytes)) fail("response has a bad mac1");
    if (auto ok = handshake.consume_response(identity, *response); !ok) {
      fail("consume_response: " + std::string(to_string(ok.error())));
    }
    const auto keys = handshake.derive_keys();
    if (!keys) fail("derive_keys");

    const Bytes ping = echo_request();
    Bytes transport_out(wireguard::kTransportDataHeaderBytes + ping.size() + crypto::kAeadTagBytes);
    wireguard::write_transport_header(keys->remote_index, 0,
                                      std::span(transport_out).first<wireguard::kTransportDataHeaderBytes>());
    crypto::ChaCha20Poly1305 sender(keys->send_key.bytes());
    sender.seal(0, ping, {}, std::span(transport_out).subspan(wireguard::kTransportDataHeaderBytes));
    socket.send(transport_out, wg);

    Bytes transport_bytes;
    const auto transport = receive_transport(socket, kLocalIndex, transport_bytes);
    const Bytes plaintext = open_transport(keys->receive_key, transport);

    std::printf("\n[initiator %s]\n", label.c_str());
    print("preshared_key", psk_bytes);
    print("initiator_ephemeral_private", initiator_ephemeral.bytes());
    std::printf("initiator_index = %08x\n", kLocalIndex);
    print("timestamp", timestamp);
    print("initiation", initiation_bytes);
    print("response", response_bytes);
    print("send_key", keys->send_key.bytes());
    print("receive_key", keys->receive_key.bytes());
    print("plaintext_out", ping);
    print("transport_out", transport_out);
    print("transport_in", transport_bytes);
    print("plaintext_in", plaintext);
  }
  return 0;
}
