// TCP super-packets and partial checksums from a TUN device with offloads,
// split into the packets a peer must receive: lengths, sequence numbers,
// flags, IPv4 IDs and checksums that a receiving stack verifies.

#include "wireguard/device/tun_offload.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace coral::wireguard::device {
namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes virtio_header(std::uint8_t flags, std::uint8_t gso_type, std::uint16_t header_length, std::uint16_t gso_size,
                    std::uint16_t checksum_start, std::uint16_t checksum_offset) {
  return {flags,
          gso_type,
          static_cast<std::uint8_t>(header_length),
          static_cast<std::uint8_t>(header_length >> 8),
          static_cast<std::uint8_t>(gso_size),
          static_cast<std::uint8_t>(gso_size >> 8),
          static_cast<std::uint8_t>(checksum_start),
          static_cast<std::uint8_t>(checksum_start >> 8),
          static_cast<std::uint8_t>(checksum_offset),
          static_cast<std::uint8_t>(checksum_offset >> 8)};
}

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) { return static_cast<std::uint32_t>(be16(p)) << 16 | be16(p + 2); }

// A straightforward RFC 1071 sum, 16 bits at a time: the reference the
// optimized one in tun_offload.cpp is checked against.
std::uint16_t reference_sum(const std::vector<std::span<const std::uint8_t>>& parts) {
  std::uint32_t sum = 0;
  for (const auto& part : parts) {
    for (std::size_t i = 0; i < part.size(); i += 2) {
      sum += static_cast<std::uint32_t>(part[i]) << 8 | (i + 1 < part.size() ? part[i + 1] : 0);
    }
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

bool tcp_checksum_valid(std::span<const std::uint8_t> packet, bool ipv6) {
  const std::size_t ip_header = ipv6 ? 40 : (packet[0] & 0x0f) * 4u;
  const std::size_t length = packet.size() - ip_header;
  const std::uint8_t pseudo_tail[] = {0, 0, static_cast<std::uint8_t>(length >> 8), static_cast<std::uint8_t>(length),
                                      0, 0, 0, 6};
  const auto addresses = ipv6 ? packet.subspan(8, 32) : packet.subspan(12, 8);
  return reference_sum({addresses, pseudo_tail, packet.subspan(ip_header)}) == 0xffff;
}

// IPv4 + TCP (20 + 32 bytes: timestamps option) carrying `payload` bytes.
Bytes ipv4_tcp(std::size_t payload, std::uint8_t flags) {
  Bytes packet(20 + 32 + payload, 0);
  packet[0] = 0x45;
  packet[2] = static_cast<std::uint8_t>(packet.size() >> 8);
  packet[3] = static_cast<std::uint8_t>(packet.size());
  packet[4] = 0x12;
  packet[5] = 0x34;  // ID
  packet[8] = 64;
  packet[9] = 6;
  const std::uint8_t addresses[] = {10, 42, 0, 1, 10, 42, 0, 2};
  std::copy(std::begin(addresses), std::end(addresses), packet.begin() + 12);
  std::uint8_t* tcp = packet.data() + 20;
  tcp[0] = 0x13;
  tcp[1] = 0x89;  // 5001
  tcp[2] = 0xc0;
  tcp[3] = 0x00;
  tcp[4] = 0xff;
  tcp[5] = 0xff;
  tcp[6] = 0xff;
  tcp[7] = 0x00;  // sequence 0xffffff00: wraps within the packet
  tcp[12] = 8 << 4;
  tcp[13] = flags;
  for (std::size_t i = 0; i < payload; ++i) packet[52 + i] = static_cast<std::uint8_t>(i * 7);
  return packet;
}

TEST(TunOffload, TcpSuperPacketBecomesMssSizedSegments) {
  Bytes read = virtio_header(1, 1, 52, 1000, 20, 16);
  const Bytes super = ipv4_tcp(2500, 0x18);  // ACK | PSH
  read.insert(read.end(), super.begin(), super.end());
  Bytes out;
  std::vector<PacketSlice> packets;
  ASSERT_TRUE(split_offloaded_packet(read, out, packets));
  ASSERT_EQ(packets.size(), 3u);
  const std::size_t sizes[] = {1052, 1052, 552};
  for (std::size_t i = 0; i < 3; ++i) {
    const auto packet = std::span<const std::uint8_t>(out.data() + packets[i].offset, packets[i].size);
    ASSERT_EQ(packet.size(), sizes[i]);
    EXPECT_EQ(be16(packet.data() + 2), sizes[i]);                         // total length
    EXPECT_EQ(be16(packet.data() + 4), 0x1234 + i);                       // IDs count up
    EXPECT_EQ(reference_sum({packet.first(20)}), 0xffff);                 // IPv4 header checksum
    EXPECT_EQ(be32(packet.data() + 24), static_cast<std::uint32_t>(0xffffff00u + 1000u * i));  // wraps
    EXPECT_EQ(packet[33], i == 2 ? 0x18 : 0x10);                          // PSH on the last only
    EXPECT_TRUE(tcp_checksum_valid(packet, false)) << "segment " << i;
    EXPECT_EQ(packet[52], static_cast<std::uint8_t>(1000 * i * 7));       // payload in place
  }
}

TEST(TunOffload, Ipv6SuperPacket) {
  Bytes packet(40 + 20 + 3000, 0);
  packet[0] = 0x60;
  packet[4] = static_cast<std::uint8_t>((20 + 3000) >> 8);
  packet[5] = static_cast<std::uint8_t>(20 + 3000);
  packet[6] = 6;
  packet[7] = 64;
  packet[8] = 0xfd;
  packet[9] = 0x42;
  packet[23] = 1;
  packet[24] = 0xfd;
  packet[25] = 0x42;
  packet[39] = 2;
  packet[40 + 12] = 5 << 4;
  packet[40 + 13] = 0x11;  // ACK | FIN
  Bytes read = virtio_header(1, 4, 60, 1400, 40, 16);
  read.insert(read.end(), packet.begin(), packet.end());
  Bytes out;
  std::vector<PacketSlice> packets;
  ASSERT_TRUE(split_offloaded_packet(read, out, packets));
  ASSERT_EQ(packets.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    const auto segment = std::span<const std::uint8_t>(out.data() + packets[i].offset, packets[i].size);
    EXPECT_EQ(be16(segment.data() + 4), segment.size() - 40);
    EXPECT_EQ(segment[53], i == 2 ? 0x11 : 0x10);  // FIN on the last only
    EXPECT_TRUE(tcp_checksum_valid(segment, true));
  }
}

TEST(TunOffload, PartialChecksumIsCompleted) {
  Bytes packet = ipv4_tcp(33, 0x10);
  // The kernel leaves the pseudo-header sum in the field.
  const std::uint8_t pseudo[] = {10, 42, 0, 1, 10, 42, 0, 2, 0, 6, 0, 32 + 33};
  const std::uint16_t partial = reference_sum({pseudo});
  packet[20 + 16] = static_cast<std::uint8_t>(partial >> 8);
  packet[20 + 17] = static_cast<std::uint8_t>(partial);
  Bytes read = virtio_header(1, 0, 0, 0, 20, 16);
  read.insert(read.end(), packet.begin(), packet.end());
  Bytes out;
  std::vector<PacketSlice> packets;
  ASSERT_TRUE(split_offloaded_packet(read, out, packets));
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_TRUE(tcp_checksum_valid(std::span<const std::uint8_t>(out.data(), packets[0].size), false));
}

TEST(TunOffload, OrdinaryPacketPassesUnchanged) {
  const Bytes packet = ipv4_tcp(10, 0x10);
  Bytes read = virtio_header(0, 0, 0, 0, 0, 0);
  read.insert(read.end(), packet.begin(), packet.end());
  Bytes out;
  std::vector<PacketSlice> packets;
  ASSERT_TRUE(split_offloaded_packet(read, out, packets));
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_EQ(Bytes(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(packets[0].size)), packet);
}

TEST(TunOffload, NonsenseIsRefused) {
  Bytes out;
  std::vector<PacketSlice> packets;
  EXPECT_FALSE(split_offloaded_packet(Bytes{1, 2, 3}, out, packets));                  // no header
  EXPECT_FALSE(split_offloaded_packet(virtio_header(0, 0, 0, 0, 0, 0), out, packets));  // no packet
  Bytes udp_offload = virtio_header(0, 3, 28, 100, 0, 0);
  udp_offload.resize(200, 0x45);
  EXPECT_FALSE(split_offloaded_packet(udp_offload, out, packets));  // UFO: not ours
  Bytes short_tcp = virtio_header(1, 1, 40, 100, 20, 16);
  short_tcp.push_back(0x45);
  EXPECT_FALSE(split_offloaded_packet(short_tcp, out, packets));
  Bytes bad_checksum_start = virtio_header(1, 0, 0, 0, 500, 16);
  bad_checksum_start.resize(100, 0x45);
  EXPECT_FALSE(split_offloaded_packet(bad_checksum_start, out, packets));
  EXPECT_TRUE(packets.empty());
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace coral::wireguard::device

namespace coral::wireguard::device {
namespace {

std::vector<std::span<const std::uint8_t>> views(const Bytes& out, const std::vector<PacketSlice>& slices) {
  std::vector<std::span<const std::uint8_t>> result;
  for (const PacketSlice& slice : slices) result.emplace_back(out.data() + slice.offset, slice.size);
  return result;
}

TEST(TunCoalescing, SegmentsOfOneFlowBecomeOneGsoWrite) {
  Bytes read = virtio_header(1, 1, 52, 1000, 20, 16);
  const Bytes super = ipv4_tcp(2500, 0x18);
  read.insert(read.end(), super.begin(), super.end());
  Bytes segments;
  std::vector<PacketSlice> slices;
  ASSERT_TRUE(split_offloaded_packet(read, segments, slices));

  Bytes out;
  std::vector<PacketSlice> writes;
  coalesce_for_tun(views(segments, slices), out, writes);
  ASSERT_EQ(writes.size(), 1u);
  const auto write = std::span<const std::uint8_t>(out.data() + writes[0].offset, writes[0].size);
  const auto header = parse_virtio_net_header(write);
  ASSERT_TRUE(header.has_value());
  EXPECT_EQ(header->gso_type, 1);  // TCPv4
  EXPECT_EQ(header->gso_size, 1000);
  EXPECT_EQ(header->header_length, 52);
  EXPECT_EQ(header->flags, 1);  // the kernel completes the checksum
  const auto packet = write.subspan(kVirtioNetHeaderBytes);
  ASSERT_EQ(packet.size(), super.size());
  EXPECT_EQ(be16(packet.data() + 2), super.size());
  EXPECT_EQ(reference_sum({packet.first(20)}), 0xffff);
  EXPECT_TRUE(std::equal(packet.begin() + 52, packet.end(), super.begin() + 52));  // payload in order
  EXPECT_EQ(packet[33], 0x18);  // PSH of the last segment kept
  // Completing the partial checksum gives a valid segment.
  Bytes completed(packet.begin(), packet.end());
  const std::uint32_t sum = checksum_add(0, std::span<const std::uint8_t>(completed).subspan(20));
  completed[36] = static_cast<std::uint8_t>(~checksum_fold(sum) >> 8);
  completed[37] = static_cast<std::uint8_t>(~checksum_fold(sum));
  EXPECT_TRUE(tcp_checksum_valid(completed, false));
}

TEST(TunCoalescing, GapsOtherFlowsAndOtherPacketsAreWrittenAsTheyAre) {
  Bytes read = virtio_header(1, 1, 52, 1000, 20, 16);
  const Bytes super = ipv4_tcp(3000, 0x10);
  read.insert(read.end(), super.begin(), super.end());
  Bytes segments;
  std::vector<PacketSlice> slices;
  ASSERT_TRUE(split_offloaded_packet(read, segments, slices));
  ASSERT_EQ(slices.size(), 3u);
  auto packets = views(segments, slices);
  std::swap(packets[1], packets[2]);  // out of order: 0, 2, 1
  Bytes icmp(28, 0);
  icmp[0] = 0x45;
  icmp[3] = 28;
  icmp[9] = 1;
  packets.insert(packets.begin() + 1, std::span<const std::uint8_t>(icmp));
  Bytes out;
  std::vector<PacketSlice> writes;
  coalesce_for_tun(packets, out, writes);
  ASSERT_EQ(writes.size(), 4u);
  for (const PacketSlice& write : writes) {
    const auto header = parse_virtio_net_header(std::span<const std::uint8_t>(out.data() + write.offset, write.size));
    EXPECT_EQ(header->gso_type, 0);
    EXPECT_EQ(header->flags, 0);
  }
  EXPECT_EQ(writes[1].size, kVirtioNetHeaderBytes + icmp.size());
}

}  // namespace
}  // namespace coral::wireguard::device
