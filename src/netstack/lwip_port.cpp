// The platform functions and hooks that coral's lwipopts.h and arch/cc.h
// name (sys_now, assertions, randomness, initial sequence numbers, routes
// of packets sent on no connection). Part of coral_lwip itself, so that
// anything linking lwIP (the stack, the benchmarks) gets coral's versions.

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "crypto/blake2s.h"
#include "crypto/keys.h"

extern "C" {
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/sys.h"
#include "lwip_hooks.h"
}

namespace {

using Clock = std::chrono::steady_clock;

// RFC 6528's secret key for initial sequence numbers, drawn once.
std::array<std::uint8_t, 32>& isn_key() {
  static std::array<std::uint8_t, 32> key = [] {
    std::array<std::uint8_t, 32> k{};
    coral::crypto::random_bytes(k);
    return k;
  }();
  return key;
}

void append_address(std::vector<std::uint8_t>& out, const ip_addr_t* address) {
  if (IP_IS_V6(address)) {
    const auto* words = ip_2_ip6(address)->addr;
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(words);
    out.insert(out.end(), bytes, bytes + 16);
  } else {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(&ip_2_ip4(address)->addr);
    out.insert(out.end(), bytes, bytes + 4);
  }
}

}  // namespace

extern "C" {


u32_t sys_now(void) {
  static const auto start = Clock::now();
  return static_cast<u32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

void coral_lwip_assert(const char* message, const char* file, int line) {
  std::fprintf(stderr, "lwIP assertion failed: %s (%s:%d)\n", message, file, line);
  std::abort();
}

uint32_t coral_lwip_rand(void) { return arc4random(); }

u32_t coral_lwip_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip,
                         u16_t remote_port) {
  std::vector<std::uint8_t> input;
  input.reserve(40);
  append_address(input, local_ip);
  append_address(input, remote_ip);
  input.push_back(static_cast<std::uint8_t>(local_port >> 8));
  input.push_back(static_cast<std::uint8_t>(local_port));
  input.push_back(static_cast<std::uint8_t>(remote_port >> 8));
  input.push_back(static_cast<std::uint8_t>(remote_port));
  std::array<std::uint8_t, 4> hash{};
  coral::crypto::blake2s(hash, input, isn_key());
  std::uint32_t offset = 0;
  std::memcpy(&offset, hash.data(), sizeof offset);
  // RFC 6528's M: a clock ticking every 4 microseconds.
  const auto ticks = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count() / 4;
  return static_cast<u32_t>(ticks) + offset;
}

struct netif* coral_lwip_route4(const ip4_addr_t* src, const ip4_addr_t* dest) {
  (void)dest;
  if (struct netif* input = ip_current_input_netif()) return input;
  if (src == nullptr) return nullptr;
  struct netif* netif = nullptr;
  NETIF_FOREACH(netif) {
    if (netif_is_up(netif) && ip4_addr_cmp(src, netif_ip4_addr(netif))) return netif;
  }
  return nullptr;
}

struct netif* coral_lwip_route6(const ip6_addr_t* src, const ip6_addr_t* dest) {
  (void)dest;
  if (struct netif* input = ip_current_input_netif()) return input;
  if (src == nullptr) return nullptr;
  struct netif* netif = nullptr;
  NETIF_FOREACH(netif) {
    if (netif_is_up(netif) && netif_get_ip6_addr_match(netif, src) >= 0) return netif;
  }
  return nullptr;
}

}  // extern "C"
