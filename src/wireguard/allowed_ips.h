#pragma once
// Cryptokey routing (WireGuard paper, section 2): the table that maps IP
// prefixes to the peers they belong to. Outgoing packets go to the peer
// whose prefix holds their destination; incoming packets are dropped unless
// their source falls in a prefix of the peer that sent them. Both ask the
// same question, longest-prefix match, once per packet.
//
// Each family has a path-compressed binary trie (the kernel's allowedips.c
// is one too): a node per prefix plus a node wherever two prefixes part
// ways, so a lookup visits at most one node per distinct prefix length on
// its path and never allocates. IPv4 and IPv6 are separate tables:
// ::ffff:10.0.0.1 is not routed by 10.0.0.0/8.
//
// Peers are handles (PeerId) that the device's peer table gives out; the
// table stores no pointers to peers, so removing a peer is remove_peer(id)
// followed by dropping it from the peer table, in any order of readers'
// convenience.
//
// Not thread-safe; lookups are const and may run concurrently with each
// other but not with changes.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "base/address.h"
#include "base/cidr.h"
#include "wireguard/settings.h"

namespace coral::wireguard {

// A peer, as the device's peer table numbers it.
using PeerId = std::uint32_t;

namespace detail {
// The trie's nodes, keyed by an IPv4 address as a number or an IPv6
// address as two (allowed_ips.cpp).
template <typename Key>
struct TrieNode;
struct Key128;
}  // namespace detail

class AllowedIps {
 public:
  AllowedIps();
  ~AllowedIps();
  AllowedIps(AllowedIps&&) noexcept;
  AllowedIps& operator=(AllowedIps&&) noexcept;
  AllowedIps(const AllowedIps&) = delete;
  AllowedIps& operator=(const AllowedIps&) = delete;

  // Routes `prefix` to `peer`. A prefix that is already in the table (same
  // network, same length) moves to `peer`, as `wg set ... allowed-ips` does
  // when two peers name the same prefix: the last one wins.
  void insert(const base::Cidr& prefix, PeerId peer);
  // The same from an address with host bits ("10.42.0.1/16" routes
  // 10.42.0.0/16, as the kernel and wireguard-go take it). False, and
  // nothing inserted, when the length exceeds 32 (IPv4) or 128 (IPv6).
  bool insert_masked(const IpAddress& address, unsigned prefix_length, PeerId peer);

  // Removes `prefix` (exactly that network and length). Returns whether it
  // was there. Prefixes inside or around it stay.
  bool remove(const base::Cidr& prefix);
  // The same, but only if `prefix` routes to `owner` (the UAPI's per-peer
  // removal must not take another peer's route).
  bool remove(const base::Cidr& prefix, PeerId owner);
  // Removes every prefix of `peer`; returns how many there were.
  std::size_t remove_peer(PeerId peer);
  void clear();

  // The peer of the longest prefix that contains the address; nullopt when
  // none does.
  std::optional<PeerId> lookup(const base::Ipv4Bytes& address) const;
  std::optional<PeerId> lookup(const base::Ipv6Bytes& address) const;
  std::optional<PeerId> lookup(const IpAddress& address) const;

  // The prefixes of `peer`, IPv4 first, each family in ascending order of
  // network address, then of length (what `wg show` lists; the order does
  // not depend on the order of insertion).
  std::vector<base::Cidr> prefixes_of(PeerId peer) const;
  // Every prefix with its peer, in the same order.
  std::vector<std::pair<base::Cidr, PeerId>> entries() const;
  // Number of prefixes (not nodes).
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  // The roots of the two tries; null when the family has no prefix (and
  // in a moved-from table, which is empty).
  std::unique_ptr<detail::TrieNode<std::uint32_t>> ipv4_;
  std::unique_ptr<detail::TrieNode<detail::Key128>> ipv6_;
  std::size_t size_ = 0;
};

// What the data path reads from the header of an IP packet: the addresses
// that cryptokey routing looks up, and the packet's own idea of its length.
struct IpPacketInfo {
  IpAddress source;
  IpAddress destination;
  // IPv4: the total length field; IPv6: 40 plus the payload length field.
  // Never more than the bytes given: a decrypted packet is zero-padded to
  // a multiple of 16 (kPaddingMultiple), and the receive path trims it to
  // this length before delivering it.
  std::size_t length = 0;
};

// Reads an IPv4 or IPv6 header. The bytes are untrusted (decrypted from a
// peer, or read from the tunnel): nullopt when the version is neither 4
// nor 6, when the buffer is shorter than the fixed header (20 or 40
// bytes), or when the length the header claims is shorter than that header
// or longer than the buffer. IPv4 options and IPv6 extension headers are
// not looked at (the addresses sit in the fixed header).
std::optional<IpPacketInfo> parse_ip_packet(std::span<const std::byte> packet);
// The same for the byte type of the transport (Keypair::open's output).
inline std::optional<IpPacketInfo> parse_ip_packet(std::span<const std::uint8_t> packet) {
  return parse_ip_packet(std::as_bytes(packet));
}

}  // namespace coral::wireguard
