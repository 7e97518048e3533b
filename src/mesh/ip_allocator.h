#pragma once
// Dual-stack mesh address allocation for a colony (DESIGN.md, "Mesh
// addressing"). Sans-I/O and without persistence: the caller stores each
// assignment (SQLite) and, at start-up, replays the stored ones with
// reserve() before it allocates again.
//
// Addresses go by index: a peer with index i gets net4 + i and net6 + i, so
// 10.42.0.15 pairs with fd42::f. Index 0 (the network address) is never
// given, index 1 is the colony's own (.1 / ::1), and the last IPv4 index (the
// broadcast address) is never given: peers get indexes 2 .. 2^(32-p4) - 2.
// The IPv6 prefix holds at least as many addresses as the IPv4 one, so the
// IPv4 subnet bounds the pool.
//
// allocate() always hands out the lowest free index, so released addresses
// are reused first. Cost per allocate/reserve/release is O(log64 pool): a
// bitmap of the pool (8 KiB for a /16, 2 MiB for a /8) with one summary bit
// per full 64-bit word, level upon level, so finding the lowest free index
// walks at most four words whatever the number of peers.
//
// Not thread-safe: one owner (the colony's registration path) calls it.

#include "base/address.h"
#include "base/cidr.h"

#include <cstddef>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coral::mesh {

struct Assignment {
  std::uint32_t index = 0;
  base::Ipv4Bytes ipv4{};
  base::Ipv6Bytes ipv6{};

  // Canonical text: "10.42.0.15", "fd42::f".
  std::string ipv4_text() const { return base::format_ipv4(ipv4); }
  std::string ipv6_text() const { return base::format_ipv6(ipv6); }

  bool operator==(const Assignment&) const = default;
};

struct AllocError {
  enum Code : std::uint8_t {
    exhausted,  // every peer index is taken: a resource_exhausted for the RPC
  };
  Code code = exhausted;
  // "mesh subnet 10.42.0.0/16 is full: 65533 peers"
  std::string message;
};

class IpAllocator {
 public:
  // Prefix lengths: IPv4 /8 to /30, IPv6 /64 to /120, and the IPv6 prefix
  // at least as large as the IPv4 one (a /24 needs /120 or shorter). Errors
  // name the subnets and say what would do.
  static std::expected<IpAllocator, std::string> create(base::Cidr ipv4_net, base::Cidr ipv6_net);
  // Shorthand for create(Cidr::parse(ipv4_net), Cidr::parse(ipv6_net)).
  static std::expected<IpAllocator, std::string> create(std::string_view ipv4_net, std::string_view ipv6_net);

  // The lowest free peer index and its two addresses.
  std::expected<Assignment, AllocError> allocate();
  // Marks an index as taken (replaying persisted assignments). False if it
  // is not a peer index (0, 1, the broadcast, beyond the subnet) or already
  // taken.
  bool reserve(std::uint32_t index);
  // Frees an index for reuse. False (and no change) if it was not taken by
  // a peer: out of range, the colony's, or already free.
  bool release(std::uint32_t index);
  bool is_taken(std::uint32_t index) const;

  // The addresses of a peer index (2 .. last_index()); nullopt otherwise.
  std::optional<Assignment> assignment(std::uint32_t index) const;
  // The index whose IPv4 or IPv6 address this is ("10.42.0.15", "fd42::f"),
  // whether taken or not; nullopt if it is not a peer address of the colony
  // (outside the subnets, .0, .1, the broadcast, or an IPv6 address beyond
  // the pool).
  std::optional<std::uint32_t> index_of(std::string_view address) const;

  // Index 1: .1 and ::1 of the subnets.
  Assignment colony() const;
  const base::Cidr& ipv4_net() const { return ipv4_net_; }
  const base::Cidr& ipv6_net() const { return ipv6_net_; }
  // Lowest and highest peer index: 2 and 2^(32-p4) - 2.
  static constexpr std::uint32_t first_index() { return 2; }
  std::uint32_t last_index() const { return last_index_; }
  // Peer addresses in all (2^(32-p4) - 3: 65533 for a /16, 5 for a /29) and
  // taken now.
  std::size_t capacity() const { return last_index_ - 1; }
  std::size_t in_use() const { return in_use_; }

 private:
  IpAllocator(base::Cidr ipv4_net, base::Cidr ipv6_net);
  Assignment make_assignment(std::uint32_t index) const;
  void mark_taken(std::uint32_t index);
  void mark_free(std::uint32_t index);

  base::Cidr ipv4_net_;
  base::Cidr ipv6_net_;
  std::uint32_t last_index_ = 0;
  std::size_t in_use_ = 0;
  // levels_[0]: bit i set = index i taken (0, 1, the broadcast and the
  // padding past it are set from the start). levels_[k + 1]: bit j set =
  // word j of levels_[k] is all ones (padding bits set too). The last level
  // is one word; when it is all ones the pool is full.
  std::vector<std::vector<std::uint64_t>> levels_;
};

}  // namespace coral::mesh
