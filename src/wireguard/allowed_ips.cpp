#include "wireguard/allowed_ips.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace coral::wireguard {
namespace detail {

// An IPv6 address as a number: the most significant half first.
struct Key128 {
  std::uint64_t hi = 0;
  std::uint64_t lo = 0;
  bool operator==(const Key128&) const = default;
};

// A prefix: `key` with every bit from `length` on cleared, and the peer it
// routes to. Nodes without a peer are where two prefixes part ways; they
// always have two children (remove() and remove_peer() fold them away
// otherwise), so the trie never holds more than twice as many nodes as
// prefixes.
template <typename Key>
struct TrieNode {
  Key key{};
  unsigned length = 0;
  std::optional<PeerId> peer;
  // child[b]: the prefixes below this one whose next bit (bit `length`,
  // counted from the most significant) is b.
  std::array<std::unique_ptr<TrieNode>, 2> child;
};

}  // namespace detail

namespace {

using detail::Key128;
using detail::TrieNode;

// Bit arithmetic on both key types: bits are numbered from the most
// significant (bit 0 is the first bit of the address).

constexpr unsigned width(std::uint32_t) { return 32; }
constexpr unsigned width(const Key128&) { return 128; }

std::uint32_t masked(std::uint32_t key, unsigned length) {
  return length == 0 ? 0 : key & (~std::uint32_t{0} << (32 - length));
}

Key128 masked(const Key128& key, unsigned length) {
  constexpr std::uint64_t ones = ~std::uint64_t{0};
  if (length == 0) return {};
  if (length <= 64) return {key.hi & (ones << (64 - length)), 0};
  return {key.hi, length == 128 ? key.lo : key.lo & (ones << (128 - length))};
}

// Requires index < width.
unsigned bit_at(std::uint32_t key, unsigned index) { return (key >> (31 - index)) & 1U; }

unsigned bit_at(const Key128& key, unsigned index) {
  return index < 64 ? (key.hi >> (63 - index)) & 1U : (key.lo >> (127 - index)) & 1U;
}

// How many leading bits the two keys share (the width when equal).
unsigned common_prefix(std::uint32_t a, std::uint32_t b) { return static_cast<unsigned>(std::countl_zero(a ^ b)); }

unsigned common_prefix(const Key128& a, const Key128& b) {
  if (a.hi != b.hi) return static_cast<unsigned>(std::countl_zero(a.hi ^ b.hi));
  return 64 + static_cast<unsigned>(std::countl_zero(a.lo ^ b.lo));
}

std::uint32_t key_of(const base::Ipv4Bytes& address) {
  return (std::uint32_t{address[0]} << 24) | (std::uint32_t{address[1]} << 16) | (std::uint32_t{address[2]} << 8) |
         address[3];
}

Key128 key_of(const base::Ipv6Bytes& address) {
  Key128 key;
  for (std::size_t i = 0; i < 8; ++i) key.hi = (key.hi << 8) | address[i];
  for (std::size_t i = 8; i < 16; ++i) key.lo = (key.lo << 8) | address[i];
  return key;
}

base::Cidr cidr_of(std::uint32_t key, unsigned length) {
  const base::Ipv4Bytes bytes{static_cast<std::uint8_t>(key >> 24), static_cast<std::uint8_t>(key >> 16),
                              static_cast<std::uint8_t>(key >> 8), static_cast<std::uint8_t>(key)};
  // Holds: nodes keep their keys masked to their lengths.
  return base::Cidr::ipv4(bytes, length).value();
}

base::Cidr cidr_of(const Key128& key, unsigned length) {
  base::Ipv6Bytes bytes{};
  for (std::size_t i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(key.hi >> (56 - 8 * i));
  for (std::size_t i = 0; i < 8; ++i) bytes[8 + i] = static_cast<std::uint8_t>(key.lo >> (56 - 8 * i));
  return base::Cidr::ipv6(bytes, length).value();
}

template <typename Key>
using Link = std::unique_ptr<TrieNode<Key>>;

template <typename Key>
Link<Key> make_node(const Key& key, unsigned length, std::optional<PeerId> peer) {
  auto node = std::make_unique<TrieNode<Key>>();
  node->key = key;
  node->length = length;
  node->peer = peer;
  return node;
}

// Routes key/length (key already masked) to `peer`. Returns whether the
// prefix is new (false: an existing one was re-pointed).
template <typename Key>
bool insert(Link<Key>& root, const Key& key, unsigned length, PeerId peer) {
  Link<Key>* link = &root;
  // Descend while the node is a prefix of the new one.
  while (*link) {
    TrieNode<Key>& node = **link;
    if (node.length > length || masked(key, node.length) != node.key) break;
    if (node.length == length) {
      const bool added = !node.peer;
      node.peer = peer;
      return added;
    }
    link = &node.child[bit_at(key, node.length)];
  }
  if (!*link) {
    *link = make_node(key, length, std::optional<PeerId>(peer));
    return true;
  }
  // *link is not a prefix of the new one: the two part ways at `split`,
  // before the end of the existing node's prefix.
  Link<Key> existing = std::move(*link);
  const unsigned split = std::min(common_prefix(existing->key, key), length);
  if (split == length) {
    // The new prefix contains the existing one: it goes above it.
    Link<Key> node = make_node(key, length, std::optional<PeerId>(peer));
    const unsigned side = bit_at(existing->key, length);
    node->child[side] = std::move(existing);
    *link = std::move(node);
  } else {
    Link<Key> fork = make_node(masked(key, split), split, std::nullopt);
    const unsigned side = bit_at(key, split);
    fork->child[side] = make_node(key, length, std::optional<PeerId>(peer));
    fork->child[1 - side] = std::move(existing);
    *link = std::move(fork);
  }
  return true;
}

// Restores the invariant at *link after its peer went: a node without a
// peer keeps two children, else it is replaced by its only child or
// deleted. Returns whether the node was deleted (its parent lost a child).
template <typename Key>
bool fold(Link<Key>& link) {
  TrieNode<Key>& node = *link;
  if (node.peer || (node.child[0] && node.child[1])) return false;
  Link<Key> only = std::move(node.child[node.child[0] ? 0 : 1]);
  const bool deleted = !only;
  link = std::move(only);  // destroys `node`
  return deleted;
}

template <typename Key>
bool remove(Link<Key>& root, const Key& key, unsigned length, std::optional<PeerId> owner) {
  // The links from the root to the prefix, to fold the path afterwards.
  // Lengths strictly grow along a path, so it has at most width + 1 nodes.
  std::array<Link<Key>*, 129> path{};
  std::size_t depth = 0;
  Link<Key>* link = &root;
  while (*link) {
    TrieNode<Key>& node = **link;
    if (node.length > length || masked(key, node.length) != node.key) return false;
    path[depth++] = link;
    if (node.length == length) break;
    link = &node.child[bit_at(key, node.length)];
  }
  if (!*link) return false;
  TrieNode<Key>& node = **link;
  if (!node.peer || (owner && *node.peer != *owner)) return false;
  node.peer.reset();
  // Deleting a leaf can leave its parent (if that has no peer) with one
  // child; folding that one does not change the grandparent's count.
  while (depth > 0 && fold(*path[--depth])) {
  }
  return true;
}

template <typename Key>
std::size_t remove_peer(Link<Key>& link, PeerId peer) {
  if (!link) return 0;
  std::size_t removed = remove_peer(link->child[0], peer) + remove_peer(link->child[1], peer);
  if (link->peer == peer) {
    link->peer.reset();
    ++removed;
  }
  fold(link);
  return removed;
}

template <typename Key>
std::optional<PeerId> lookup(const Link<Key>& root, const Key& key) {
  std::optional<PeerId> best;
  const TrieNode<Key>* node = root.get();
  while (node && masked(key, node->length) == node->key) {
    if (node->peer) best = node->peer;
    if (node->length == width(key)) break;
    node = node->child[bit_at(key, node->length)].get();
  }
  return best;
}

// Pre-order, child 0 first: ascending by network, then by length.
template <typename Key, typename Visit>
void walk(const Link<Key>& link, const Visit& visit) {
  if (!link) return;
  if (link->peer) visit(cidr_of(link->key, link->length), *link->peer);
  walk(link->child[0], visit);
  walk(link->child[1], visit);
}

std::uint16_t load16(std::span<const std::byte> bytes, std::size_t offset) {
  return static_cast<std::uint16_t>((std::to_integer<unsigned>(bytes[offset]) << 8) |
                                    std::to_integer<unsigned>(bytes[offset + 1]));
}

IpAddress address_at(std::span<const std::byte> bytes, std::size_t offset, base::IpFamily family) {
  IpAddress address;
  address.family = family;
  std::memcpy(address.bytes.data(), bytes.data() + offset, family == base::IpFamily::ipv4 ? 4 : 16);
  return address;
}

base::Ipv4Bytes ipv4_of(const IpAddress& address) {
  return {address.bytes[0], address.bytes[1], address.bytes[2], address.bytes[3]};
}

// Header layouts (RFC 791, RFC 8200).
constexpr std::size_t kIpv4HeaderBytes = 20;
constexpr std::size_t kIpv4TotalLengthOffset = 2;
constexpr std::size_t kIpv4SourceOffset = 12;
constexpr std::size_t kIpv4DestinationOffset = 16;
constexpr std::size_t kIpv6HeaderBytes = 40;
constexpr std::size_t kIpv6PayloadLengthOffset = 4;
constexpr std::size_t kIpv6SourceOffset = 8;
constexpr std::size_t kIpv6DestinationOffset = 24;

}  // namespace

AllowedIps::AllowedIps() = default;
AllowedIps::~AllowedIps() = default;

AllowedIps::AllowedIps(AllowedIps&& other) noexcept
    : ipv4_(std::move(other.ipv4_)), ipv6_(std::move(other.ipv6_)), size_(std::exchange(other.size_, 0)) {}

AllowedIps& AllowedIps::operator=(AllowedIps&& other) noexcept {
  ipv4_ = std::move(other.ipv4_);
  ipv6_ = std::move(other.ipv6_);
  size_ = std::exchange(other.size_, 0);
  return *this;
}

void AllowedIps::insert(const base::Cidr& prefix, PeerId peer) {
  const bool added = prefix.is_ipv4()
                         ? wireguard::insert(ipv4_, key_of(prefix.network_ipv4()), prefix.prefix_length(), peer)
                         : wireguard::insert(ipv6_, key_of(prefix.network_ipv6()), prefix.prefix_length(), peer);
  if (added) ++size_;
}

bool AllowedIps::insert_masked(const IpAddress& address, unsigned prefix_length, PeerId peer) {
  bool added = false;
  if (address.is_ipv4()) {
    if (prefix_length > 32) return false;
    added = wireguard::insert(ipv4_, masked(key_of(ipv4_of(address)), prefix_length), prefix_length, peer);
  } else {
    if (prefix_length > 128) return false;
    added = wireguard::insert(ipv6_, masked(key_of(address.bytes), prefix_length), prefix_length, peer);
  }
  if (added) ++size_;
  return true;
}

bool AllowedIps::remove(const base::Cidr& prefix) {
  const bool removed =
      prefix.is_ipv4() ? wireguard::remove(ipv4_, key_of(prefix.network_ipv4()), prefix.prefix_length(), std::nullopt)
                       : wireguard::remove(ipv6_, key_of(prefix.network_ipv6()), prefix.prefix_length(), std::nullopt);
  if (removed) --size_;
  return removed;
}

bool AllowedIps::remove(const base::Cidr& prefix, PeerId owner) {
  const bool removed =
      prefix.is_ipv4()
          ? wireguard::remove(ipv4_, key_of(prefix.network_ipv4()), prefix.prefix_length(), std::optional(owner))
          : wireguard::remove(ipv6_, key_of(prefix.network_ipv6()), prefix.prefix_length(), std::optional(owner));
  if (removed) --size_;
  return removed;
}

std::size_t AllowedIps::remove_peer(PeerId peer) {
  const std::size_t removed = wireguard::remove_peer(ipv4_, peer) + wireguard::remove_peer(ipv6_, peer);
  size_ -= removed;
  return removed;
}

void AllowedIps::clear() {
  ipv4_.reset();
  ipv6_.reset();
  size_ = 0;
}

std::optional<PeerId> AllowedIps::lookup(const base::Ipv4Bytes& address) const {
  return wireguard::lookup(ipv4_, key_of(address));
}

std::optional<PeerId> AllowedIps::lookup(const base::Ipv6Bytes& address) const {
  return wireguard::lookup(ipv6_, key_of(address));
}

std::optional<PeerId> AllowedIps::lookup(const IpAddress& address) const {
  return address.is_ipv4() ? lookup(ipv4_of(address)) : lookup(address.bytes);
}

std::vector<base::Cidr> AllowedIps::prefixes_of(PeerId peer) const {
  std::vector<base::Cidr> prefixes;
  const auto visit = [&](const base::Cidr& prefix, PeerId owner) {
    if (owner == peer) prefixes.push_back(prefix);
  };
  walk(ipv4_, visit);
  walk(ipv6_, visit);
  return prefixes;
}

std::vector<std::pair<base::Cidr, PeerId>> AllowedIps::entries() const {
  std::vector<std::pair<base::Cidr, PeerId>> all;
  all.reserve(size_);
  const auto visit = [&](const base::Cidr& prefix, PeerId owner) { all.emplace_back(prefix, owner); };
  walk(ipv4_, visit);
  walk(ipv6_, visit);
  return all;
}

std::optional<IpPacketInfo> parse_ip_packet(std::span<const std::byte> packet) {
  if (packet.empty()) return std::nullopt;
  const unsigned version = std::to_integer<unsigned>(packet[0]) >> 4;
  IpPacketInfo info;
  if (version == 4) {
    if (packet.size() < kIpv4HeaderBytes) return std::nullopt;
    info.length = load16(packet, kIpv4TotalLengthOffset);
    if (info.length < kIpv4HeaderBytes) return std::nullopt;
    info.source = address_at(packet, kIpv4SourceOffset, base::IpFamily::ipv4);
    info.destination = address_at(packet, kIpv4DestinationOffset, base::IpFamily::ipv4);
  } else if (version == 6) {
    if (packet.size() < kIpv6HeaderBytes) return std::nullopt;
    // In size_t: 40 + 65535 does not fit the 16-bit field's type.
    info.length = kIpv6HeaderBytes + load16(packet, kIpv6PayloadLengthOffset);
    info.source = address_at(packet, kIpv6SourceOffset, base::IpFamily::ipv6);
    info.destination = address_at(packet, kIpv6DestinationOffset, base::IpFamily::ipv6);
  } else {
    return std::nullopt;
  }
  if (info.length > packet.size()) return std::nullopt;
  return info;
}

}  // namespace coral::wireguard
