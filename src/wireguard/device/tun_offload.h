#pragma once
// What a TUN device with offloads (IFF_VNET_HDR + TUNSETOFFLOAD) hands us:
// a virtio_net_hdr, then a packet that may be a TCP "super-packet" of up to
// 64 KiB (TSO: the kernel left the segmentation to us) or a packet whose
// transport checksum is only partly computed (the kernel left it to us).
// Either saves the host's TCP stack and the TUN read path per-packet work;
// this file turns such a read back into ordinary packets. Pure functions:
// bytes in, packets out.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace coral::wireguard::device {

// struct virtio_net_hdr (linux/virtio_net.h): 10 bytes, little-endian
// fields as the TUN device's default (no TUNSETVNETLE needed on x86 and
// arm64, which are little-endian).
inline constexpr std::size_t kVirtioNetHeaderBytes = 10;

struct VirtioNetHeader {
  std::uint8_t flags = 0;     // 1: VIRTIO_NET_HDR_F_NEEDS_CSUM
  std::uint8_t gso_type = 0;  // 0 none, 1 TCPv4, 4 TCPv6 (| 0x80 ECN)
  std::uint16_t header_length = 0;
  std::uint16_t gso_size = 0;
  std::uint16_t checksum_start = 0;
  std::uint16_t checksum_offset = 0;
};

std::optional<VirtioNetHeader> parse_virtio_net_header(std::span<const std::uint8_t> bytes);

// The Internet checksum (RFC 1071) of `bytes`, folded, not complemented,
// added to `sum`.
std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes);
std::uint16_t checksum_fold(std::uint32_t sum);

// Splits what one read from the TUN device returned (header included)
// into ordinary IP packets, appended to `out` (each with complete
// checksums), with their [offset, size) in `out` appended to `packets`.
// Returns false, and appends nothing, for a read it cannot make sense of
// (a short packet, an unknown GSO type, lengths that do not add up): the
// caller drops it.
struct PacketSlice {
  std::size_t offset;
  std::size_t size;
};
bool split_offloaded_packet(std::span<const std::uint8_t> read, std::vector<std::uint8_t>& out,
                            std::vector<PacketSlice>& packets);

// The other direction: packets to write to the TUN device, each written
// with its virtio_net_hdr. Runs of TCP segments of one flow that follow
// each other in sequence (equal sizes, only the last shorter; only ACK,
// with PSH allowed on the last; identical headers otherwise) become one
// super-packet with a GSO header, so that the host's stack takes them in
// one write and handles them as one (GRO done here); anything else is
// written as it is behind an all-zero header. Appends each write (header
// included) to `out`, and where it is to `writes`.
void coalesce_for_tun(std::span<const std::span<const std::uint8_t>> packets, std::vector<std::uint8_t>& out,
                      std::vector<PacketSlice>& writes);

}  // namespace coral::wireguard::device
