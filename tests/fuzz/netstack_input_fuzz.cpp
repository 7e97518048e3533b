// The userspace TCP/IP stack (netstack::Stack, lwIP with coral's options and
// glue) fed IP packets from a hostile peer: what a WireGuard peer can put
// into the tunnel. The stack holds 10.42.0.1 and fd42::1 and echoes on port
// 9000 (both families), so inputs get into TCP's states past the handshake.
//
// Input: records [flags][len:2][packet bytes]. flags & 1: the harness fills
// in the IPv4 header checksum and the TCP / ICMP / ICMPv6 checksum (random
// bytes rarely carry good ones); & 2: the TCP acknowledgment number becomes
// the one the stack's last segment asks for (its sequence numbers are
// random), so a fuzzed peer can complete a handshake and send data; & 4:
// the application closes its oldest connection afterwards. Oracles:
// ASan/UBSan, lwIP's assertions (they abort), and the stack's accounting
// (nothing buffered or open after close()).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>

#include "netstack/stack.h"

using namespace coral;
namespace asio = boost::asio;

namespace {

std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (p[i] << 8) | p[i + 1];
  if (n & 1) sum += p[n - 1] << 8;
  return sum;
}

std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

void put16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

std::uint32_t get32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

void put32(std::uint8_t* p, std::uint32_t v) {
  put16(p, static_cast<std::uint16_t>(v >> 16));
  put16(p + 2, static_cast<std::uint16_t>(v));
}

// Where the transport header starts and which protocol it is; false when
// the packet is too short to say.
bool locate(const std::vector<std::uint8_t>& packet, std::size_t& offset, std::uint8_t& protocol) {
  if (packet.empty()) return false;
  if ((packet[0] >> 4) == 4) {
    if (packet.size() < 20) return false;
    offset = (packet[0] & 0x0f) * 4u;
    protocol = packet[9];
    return offset >= 20 && offset <= packet.size();
  }
  if ((packet[0] >> 4) == 6) {
    if (packet.size() < 40) return false;
    offset = 40;
    protocol = packet[6];
    return true;
  }
  return false;
}

void fix_checksums(std::vector<std::uint8_t>& packet) {
  std::size_t offset = 0;
  std::uint8_t protocol = 0;
  if (!locate(packet, offset, protocol)) return;
  const bool v6 = (packet[0] >> 4) == 6;
  if (!v6) {
    packet[10] = packet[11] = 0;
    put16(&packet[10], fold(sum16(packet.data(), offset)));
  }
  std::uint8_t* transport = packet.data() + offset;
  const std::size_t length = packet.size() - offset;
  std::size_t checksum_at = 0;
  bool pseudo = true;
  if (protocol == 6 && length >= 20) {
    checksum_at = 16;
  } else if (protocol == 1 && !v6 && length >= 8) {
    checksum_at = 2;
    pseudo = false;
  } else if (protocol == 58 && v6 && length >= 8) {
    checksum_at = 2;
  } else {
    return;
  }
  transport[checksum_at] = transport[checksum_at + 1] = 0;
  std::uint32_t sum = 0;
  if (pseudo) {
    sum = v6 ? sum16(&packet[8], 32) : sum16(&packet[12], 8);
    sum += protocol + static_cast<std::uint32_t>(length);
  }
  put16(transport + checksum_at, fold(sum16(transport, length, sum)));
}

struct Harness {
  asio::io_context io{1};
  std::shared_ptr<netstack::Stack> stack;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  std::deque<std::unique_ptr<net::ByteStream>> streams;
  std::uint32_t next_ack = 0;  // what the stack's last TCP segment asks to be acknowledged
  bool have_ack = false;

  Harness() {
    netstack::StackOptions options;
    options.ipv4 = "10.42.0.1";
    options.ipv6 = "fd42::1";
    options.limits.max_connections = 16;
    options.limits.max_half_open = 8;
    options.limits.max_buffered_bytes = 1 << 20;
    auto created = netstack::Stack::create(io, options);
    if (!created) std::abort();
    stack = *created;
    stack->set_output([this](std::span<const netstack::Packet> packets) {
      for (const auto& out : packets) learn(out);
    });
    for (const char* address : {"10.42.0.1", "fd42::1"}) {
      auto listener = stack->listen(address, 9000);
      if (!listener) std::abort();
      asio::co_spawn(io, accept_loop(**listener), asio::detached);
      listeners.push_back(std::move(*listener));
    }
  }

  // The sequence number after the stack's segment: what a peer acknowledges.
  void learn(std::span<const std::uint8_t> out) {
    const std::vector<std::uint8_t> packet(out.begin(), out.end());
    std::size_t offset = 0;
    std::uint8_t protocol = 0;
    if (!locate(packet, offset, protocol) || protocol != 6 || packet.size() < offset + 20) return;
    const std::uint8_t* tcp = packet.data() + offset;
    const std::size_t header = (tcp[12] >> 4) * 4u;
    if (header < 20 || offset + header > packet.size()) return;
    const std::uint8_t flags = tcp[13];
    std::uint32_t length = static_cast<std::uint32_t>(packet.size() - offset - header);
    if (flags & 0x02) ++length;  // SYN
    if (flags & 0x01) ++length;  // FIN
    next_ack = get32(tcp + 4) + length;
    have_ack = true;
  }

  net::Awaitable<void> echo(net::ByteStream& stream) {
    std::array<std::byte, 2048> buffer{};
    while (true) {
      auto n = co_await stream.read_some(buffer);
      if (!n) co_return;
      if (co_await stream.write(std::span(buffer).first(*n))) co_return;
    }
  }

  net::Awaitable<void> accept_loop(net::Listener& listener) {
    while (true) {
      auto stream = co_await listener.accept();
      if (!stream) co_return;
      streams.push_back(std::move(*stream));
      asio::co_spawn(io, echo(*streams.back()), asio::detached);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Harness harness;
  std::size_t at = 0;
  for (int records = 0; records < 64 && at + 3 <= size; ++records) {
    const std::uint8_t flags = data[at];
    const std::size_t length = std::min<std::size_t>((data[at + 1] << 8) | data[at + 2], size - at - 3);
    std::vector<std::uint8_t> packet(data + at + 3, data + at + 3 + length);
    at += 3 + length;
    std::size_t offset = 0;
    std::uint8_t protocol = 0;
    if ((flags & 2) && harness.have_ack && locate(packet, offset, protocol) && protocol == 6 &&
        packet.size() >= offset + 20)
      put32(&packet[offset + 8], harness.next_ack);
    if (flags & 1) fix_checksums(packet);
    const netstack::Packet view(packet);
    harness.stack->input(std::span(&view, 1));
    harness.io.poll();
    if ((flags & 4) && !harness.streams.empty()) {
      harness.streams.front()->close();
      harness.io.poll();
    }
  }
  harness.stack->close();
  harness.io.poll();
  const auto stats = harness.stack->stats();
  if (stats.buffered_bytes != 0) std::abort();  // close() released what was unread
  harness.streams.clear();
  harness.listeners.clear();
  harness.io.poll();
  return 0;
}
