#include "wireguard/device/tun_offload.h"

#include <algorithm>
#include <cstring>

namespace coral::wireguard::device {

namespace {

constexpr std::uint8_t kNeedsChecksum = 1;
constexpr std::uint8_t kGsoNone = 0;
constexpr std::uint8_t kGsoTcpV4 = 1;
constexpr std::uint8_t kGsoTcpV6 = 4;
constexpr std::uint8_t kGsoEcn = 0x80;
constexpr std::uint8_t kTcpProtocol = 6;
constexpr std::uint8_t kTcpFin = 0x01;
constexpr std::uint8_t kTcpPsh = 0x08;
constexpr std::uint8_t kTcpCwr = 0x80;

std::uint16_t get_be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
void put_be16(std::uint8_t* p, std::uint16_t value) {
  p[0] = static_cast<std::uint8_t>(value >> 8);
  p[1] = static_cast<std::uint8_t>(value);
}
std::uint32_t get_be32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) << 24 | static_cast<std::uint32_t>(p[1]) << 16 |
         static_cast<std::uint32_t>(p[2]) << 8 | p[3];
}
void put_be32(std::uint8_t* p, std::uint32_t value) {
  put_be16(p, static_cast<std::uint16_t>(value >> 16));
  put_be16(p + 2, static_cast<std::uint16_t>(value));
}
std::uint16_t get_le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }

// The checksum of the TCP segment at `tcp` (header and payload, `length`
// bytes) with its pseudo-header, written into the TCP header.
void fill_tcp_checksum(std::uint8_t* packet, bool ipv6, std::uint8_t* tcp, std::size_t length) {
  tcp[16] = tcp[17] = 0;
  std::uint32_t sum = 0;
  if (ipv6) {
    sum = checksum_add(sum, {packet + 8, 32});
  } else {
    sum = checksum_add(sum, {packet + 12, 8});
  }
  sum += kTcpProtocol;
  sum += static_cast<std::uint32_t>(length);
  sum = checksum_add(sum, {tcp, length});
  put_be16(tcp + 16, static_cast<std::uint16_t>(~checksum_fold(sum)));
}

void fill_ipv4_header_checksum(std::uint8_t* packet) {
  const std::size_t header = static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  packet[10] = packet[11] = 0;
  put_be16(packet + 10, static_cast<std::uint16_t>(~checksum_fold(checksum_add(0, {packet, header}))));
}

std::size_t append(std::vector<std::uint8_t>& out, std::span<const std::uint8_t> bytes) {
  const std::size_t offset = out.size();
  out.insert(out.end(), bytes.begin(), bytes.end());
  return offset;
}

}  // namespace

std::optional<VirtioNetHeader> parse_virtio_net_header(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kVirtioNetHeaderBytes) return std::nullopt;
  return VirtioNetHeader{bytes[0],
                         bytes[1],
                         get_le16(bytes.data() + 2),
                         get_le16(bytes.data() + 4),
                         get_le16(bytes.data() + 6),
                         get_le16(bytes.data() + 8)};
}

std::uint32_t checksum_add(std::uint32_t sum, std::span<const std::uint8_t> bytes) {
  // 64-bit accumulation of 32-bit big-endian words; the carries fold back
  // at the end (RFC 1071's "deferred carries").
  std::uint64_t wide = sum;
  std::size_t i = 0;
  for (; i + 4 <= bytes.size(); i += 4) wide += get_be32(bytes.data() + i);
  if (i + 2 <= bytes.size()) {
    wide += get_be16(bytes.data() + i);
    i += 2;
  }
  if (i < bytes.size()) wide += static_cast<std::uint32_t>(bytes[i]) << 8;
  while (wide >> 32) wide = (wide & 0xffffffff) + (wide >> 32);
  return static_cast<std::uint32_t>(wide);
}

std::uint16_t checksum_fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(sum);
}

bool split_offloaded_packet(std::span<const std::uint8_t> read, std::vector<std::uint8_t>& out,
                            std::vector<PacketSlice>& packets) {
  const auto header = parse_virtio_net_header(read);
  if (!header) return false;
  const auto packet = read.subspan(kVirtioNetHeaderBytes);
  if (packet.empty()) return false;
  const std::uint8_t gso = header->gso_type & static_cast<std::uint8_t>(~kGsoEcn);

  if (gso == kGsoNone) {
    const std::size_t offset = append(out, packet);
    if ((header->flags & kNeedsChecksum) != 0) {
      // The kernel summed the pseudo-header into the checksum field; the
      // sum over the rest is ours.
      const std::size_t start = header->checksum_start;
      const std::size_t field = start + header->checksum_offset;
      if (start >= packet.size() || field + 2 > packet.size()) {
        out.resize(offset);
        return false;
      }
      std::uint8_t* bytes = out.data() + offset;
      const std::uint32_t sum = checksum_add(0, {bytes + start, packet.size() - start});
      put_be16(bytes + field, static_cast<std::uint16_t>(~checksum_fold(sum)));
    }
    packets.push_back({offset, packet.size()});
    return true;
  }
  if (gso != kGsoTcpV4 && gso != kGsoTcpV6) return false;

  const bool ipv6 = gso == kGsoTcpV6;
  const std::size_t ip_header = ipv6 ? 40 : static_cast<std::size_t>(packet[0] & 0x0f) * 4;
  if (packet.size() < ip_header + 20 || (packet[0] >> 4) != (ipv6 ? 6 : 4) || ip_header < 20) return false;
  if ((ipv6 ? packet[6] : packet[9]) != kTcpProtocol) return false;  // no extension headers, no options chains
  const std::size_t tcp_header = static_cast<std::size_t>(packet[ip_header + 12] >> 4) * 4;
  const std::size_t headers = ip_header + tcp_header;
  const std::size_t segment = header->gso_size;
  if (tcp_header < 20 || headers > packet.size() || segment == 0) return false;

  const std::size_t payload = packet.size() - headers;
  const std::uint32_t sequence = get_be32(packet.data() + ip_header + 4);
  const std::uint16_t first_id = ipv6 ? 0 : get_be16(packet.data() + 4);
  const std::uint8_t flags = packet[ip_header + 13];
  out.reserve(out.size() + payload + (payload / segment + 1) * headers);
  std::size_t index = 0;
  for (std::size_t done = 0; done < payload || (payload == 0 && index == 0); done += segment, ++index) {
    const std::size_t size = std::min(segment, payload - done);
    const bool last = done + size >= payload;
    const std::size_t offset = append(out, packet.first(headers));
    out.insert(out.end(), packet.begin() + static_cast<std::ptrdiff_t>(headers + done),
               packet.begin() + static_cast<std::ptrdiff_t>(headers + done + size));
    std::uint8_t* bytes = out.data() + offset;
    std::uint8_t* tcp = bytes + ip_header;
    if (ipv6) {
      put_be16(bytes + 4, static_cast<std::uint16_t>(tcp_header + size));
    } else {
      put_be16(bytes + 2, static_cast<std::uint16_t>(headers + size));
      put_be16(bytes + 4, static_cast<std::uint16_t>(first_id + index));
      fill_ipv4_header_checksum(bytes);
    }
    put_be32(tcp + 4, sequence + static_cast<std::uint32_t>(done));
    // FIN and PSH belong to the last segment, CWR to the first.
    std::uint8_t segment_flags = flags;
    if (!last) segment_flags &= static_cast<std::uint8_t>(~(kTcpFin | kTcpPsh));
    if (index > 0) segment_flags &= static_cast<std::uint8_t>(~kTcpCwr);
    tcp[13] = segment_flags;
    fill_tcp_checksum(bytes, ipv6, tcp, tcp_header + size);
    packets.push_back({offset, headers + size});
    if (payload == 0) break;
  }
  return true;
}

namespace {

constexpr std::uint8_t kTcpAck = 0x10;
constexpr std::size_t kMaxCoalescedBytes = 65535;

// What coalescing needs to know about a TCP segment; nullopt for anything
// that is not a plain IPv4 (no options, not fragmented) or IPv6 (no
// extension headers) TCP segment with only ACK, or ACK and PSH, set.
struct TcpSegment {
  bool ipv6;
  std::size_t ip_header;
  std::size_t headers;  // IP + TCP
  std::size_t payload;
  std::uint32_t sequence;
  bool push;
};

std::optional<TcpSegment> tcp_segment(std::span<const std::uint8_t> packet) {
  if (packet.size() < 40) return std::nullopt;
  const std::uint8_t version = packet[0] >> 4;
  std::size_t ip_header = 0;
  std::size_t claimed = 0;
  if (version == 4) {
    if ((packet[0] & 0x0f) != 5 || packet[9] != kTcpProtocol) return std::nullopt;
    if ((get_be16(packet.data() + 6) & 0x3fff) != 0) return std::nullopt;  // MF or a fragment offset
    ip_header = 20;
    claimed = get_be16(packet.data() + 2);
  } else if (version == 6) {
    if (packet.size() < 60 || packet[6] != kTcpProtocol) return std::nullopt;
    ip_header = 40;
    claimed = 40 + static_cast<std::size_t>(get_be16(packet.data() + 4));
  } else {
    return std::nullopt;
  }
  if (claimed != packet.size()) return std::nullopt;
  const std::uint8_t* tcp = packet.data() + ip_header;
  const std::size_t tcp_header = static_cast<std::size_t>(tcp[12] >> 4) * 4;
  const std::uint8_t flags = tcp[13];
  if (tcp_header < 20 || ip_header + tcp_header > packet.size()) return std::nullopt;
  if ((flags & static_cast<std::uint8_t>(~kTcpPsh)) != kTcpAck) return std::nullopt;
  return TcpSegment{version == 6, ip_header, ip_header + tcp_header, packet.size() - ip_header - tcp_header,
                    get_be32(tcp + 4), (flags & kTcpPsh) != 0};
}

// Whether `next` continues the run that `first` (`head`) started and
// `tail` ends so far:
// the same flow and headers (addresses, ports, ACK, window, options; IPv4
// TOS/TTL/DF, IPv6 class/flow/hop limit), next in sequence.
bool continues(std::span<const std::uint8_t> first, const TcpSegment& head, const TcpSegment& tail,
               std::span<const std::uint8_t> next, const TcpSegment& segment) {
  if (segment.ipv6 != head.ipv6 || segment.headers != head.headers) return false;
  if (segment.payload == 0 || segment.payload > head.payload) return false;
  if (tail.push || tail.payload < head.payload) return false;  // the run already ended
  if (segment.sequence != tail.sequence + static_cast<std::uint32_t>(tail.payload)) return false;
  if (head.ipv6) {
    // Version/class/flow (0-3), next header and hop limit (6-7), addresses (8-39).
    if (std::memcmp(first.data(), next.data(), 4) != 0 || std::memcmp(first.data() + 6, next.data() + 6, 34) != 0) {
      return false;
    }
  } else {
    // Version/IHL/TOS (0-1), flags (6, DF only: checked), TTL/protocol (8-9), addresses (12-19).
    if (first[0] != next[0] || first[1] != next[1] || first[6] != next[6] ||
        std::memcmp(first.data() + 8, next.data() + 8, 2) != 0 || std::memcmp(first.data() + 12, next.data() + 12, 8) != 0) {
      return false;
    }
  }
  const std::uint8_t* a = first.data() + head.ip_header;
  const std::uint8_t* b = next.data() + head.ip_header;
  // Ports (0-3), ACK number (8-11), data offset (12), window (14-15), options.
  return std::memcmp(a, b, 4) == 0 && std::memcmp(a + 8, b + 8, 5) == 0 && std::memcmp(a + 14, b + 14, 2) == 0 &&
         std::memcmp(a + 20, b + 20, head.headers - head.ip_header - 20) == 0;
}

void append_header(std::vector<std::uint8_t>& out, const VirtioNetHeader& header) {
  const std::uint8_t bytes[kVirtioNetHeaderBytes] = {header.flags,
                                                     header.gso_type,
                                                     static_cast<std::uint8_t>(header.header_length),
                                                     static_cast<std::uint8_t>(header.header_length >> 8),
                                                     static_cast<std::uint8_t>(header.gso_size),
                                                     static_cast<std::uint8_t>(header.gso_size >> 8),
                                                     static_cast<std::uint8_t>(header.checksum_start),
                                                     static_cast<std::uint8_t>(header.checksum_start >> 8),
                                                     static_cast<std::uint8_t>(header.checksum_offset),
                                                     static_cast<std::uint8_t>(header.checksum_offset >> 8)};
  out.insert(out.end(), std::begin(bytes), std::end(bytes));
}

}  // namespace

void coalesce_for_tun(std::span<const std::span<const std::uint8_t>> packets, std::vector<std::uint8_t>& out,
                      std::vector<PacketSlice>& writes) {
  std::size_t i = 0;
  while (i < packets.size()) {
    const auto first = packets[i];
    const auto head = tcp_segment(first);
    // How far the run from packet i goes.
    std::size_t end = i + 1;
    std::size_t total = first.size();
    if (head && head->payload > 0) {
      TcpSegment tail = *head;
      while (end < packets.size()) {
        const auto next = packets[end];
        const auto segment = tcp_segment(next);
        if (!segment || total + segment->payload > kMaxCoalescedBytes ||
            !continues(first, *head, tail, next, *segment)) {
          break;
        }
        total += segment->payload;
        tail = *segment;
        ++end;
      }
    }
    const std::size_t offset = out.size();
    if (end == i + 1) {
      append_header(out, VirtioNetHeader{});
      out.insert(out.end(), first.begin(), first.end());
      writes.push_back({offset, out.size() - offset});
      ++i;
      continue;
    }
    // The first segment's headers, then every payload.
    append_header(out, VirtioNetHeader{kNeedsChecksum, head->ipv6 ? kGsoTcpV6 : kGsoTcpV4,
                                       static_cast<std::uint16_t>(head->headers),
                                       static_cast<std::uint16_t>(head->payload),
                                       static_cast<std::uint16_t>(head->ip_header), 16});
    const std::size_t packet_offset = out.size();
    out.insert(out.end(), first.begin(), first.end());
    bool push = false;
    for (std::size_t k = i + 1; k < end; ++k) {
      const auto segment = tcp_segment(packets[k]);
      out.insert(out.end(), packets[k].begin() + static_cast<std::ptrdiff_t>(segment->headers), packets[k].end());
      push = push || segment->push;
    }
    std::uint8_t* bytes = out.data() + packet_offset;
    std::uint8_t* tcp = bytes + head->ip_header;
    if (push) tcp[13] |= kTcpPsh;
    const std::size_t tcp_length = total - head->ip_header;
    // The kernel finishes the checksum (NEEDS_CSUM): the field holds the
    // pseudo-header's sum, as the kernel's own offloads leave it.
    std::uint32_t sum = 0;
    if (head->ipv6) {
      put_be16(bytes + 4, static_cast<std::uint16_t>(tcp_length));
      sum = checksum_add(sum, {bytes + 8, 32});
    } else {
      put_be16(bytes + 2, static_cast<std::uint16_t>(total));
      fill_ipv4_header_checksum(bytes);
      sum = checksum_add(sum, {bytes + 12, 8});
    }
    sum += kTcpProtocol + static_cast<std::uint32_t>(tcp_length);
    put_be16(tcp + 16, checksum_fold(sum));
    writes.push_back({offset, out.size() - offset});
    i = end;
  }
}

}  // namespace coral::wireguard::device
