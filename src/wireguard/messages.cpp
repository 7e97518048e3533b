#include "wireguard/messages.h"

#include <algorithm>
#include <cstdlib>

namespace coral::wireguard {
namespace {

// A cursor over a buffer whose size was checked before: reads and writes
// stay in bounds by construction (the callers read exactly the sizes they
// checked), and each one also checks, so that a mistake here aborts instead
// of reading past the end.
class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  std::uint32_t u32() {
    const auto b = take(4);
    return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8 |
           static_cast<std::uint32_t>(b[2]) << 16 | static_cast<std::uint32_t>(b[3]) << 24;
  }
  std::uint64_t u64() {
    const std::uint64_t low = u32();
    const std::uint64_t high = u32();
    return low | high << 32;
  }
  template <std::size_t N>
  void bytes(std::array<std::uint8_t, N>& out) {
    const auto b = take(N);
    std::copy(b.begin(), b.end(), out.begin());
  }
  std::span<const std::uint8_t> rest() { return take(bytes_.size()); }

 private:
  std::span<const std::uint8_t> take(std::size_t n) {
    if (n > bytes_.size()) std::abort();  // can't happen: sizes are checked first
    const auto b = bytes_.first(n);
    bytes_ = bytes_.subspan(n);
    return b;
  }

  std::span<const std::uint8_t> bytes_;
};

class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> bytes) : bytes_(bytes) {}

  void u32(std::uint32_t v) {
    const auto b = take(4);
    for (std::size_t i = 0; i < 4; ++i) b[i] = static_cast<std::uint8_t>(v >> (8 * i));
  }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v));
    u32(static_cast<std::uint32_t>(v >> 32));
  }
  template <std::size_t N>
  void bytes(const std::array<std::uint8_t, N>& in) {
    const auto b = take(N);
    std::copy(in.begin(), in.end(), b.begin());
  }
  bool done() const { return bytes_.empty(); }

 private:
  std::span<std::uint8_t> take(std::size_t n) {
    if (n > bytes_.size()) std::abort();  // can't happen: fixed layouts
    const auto b = bytes_.first(n);
    bytes_ = bytes_.subspan(n);
    return b;
  }

  std::span<std::uint8_t> bytes_;
};

// Checks type and size together; the type comes first so that a message of
// another type is reported as such whatever its size.
std::expected<void, ParseError> check(std::span<const std::uint8_t> packet, MessageType expected) {
  const auto type = message_type(packet);
  if (!type) return std::unexpected(type.error());
  if (*type != expected) return std::unexpected(ParseError::wrong_type);
  switch (expected) {
    case MessageType::handshake_initiation:
      if (packet.size() != kInitiationBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::handshake_response:
      if (packet.size() != kResponseBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::cookie_reply:
      if (packet.size() != kCookieReplyBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::transport_data:
      if (packet.size() < kMinTransportDataBytes) return std::unexpected(ParseError::too_short);
      break;
  }
  return {};
}

}  // namespace

std::string_view to_string(MessageType type) {
  switch (type) {
    case MessageType::handshake_initiation:
      return "handshake_initiation";
    case MessageType::handshake_response:
      return "handshake_response";
    case MessageType::cookie_reply:
      return "cookie_reply";
    case MessageType::transport_data:
      return "transport_data";
  }
  return "unknown";
}

std::string_view to_string(ParseError error) {
  switch (error) {
    case ParseError::too_short:
      return "too_short";
    case ParseError::wrong_size:
      return "wrong_size";
    case ParseError::unknown_type:
      return "unknown_type";
    case ParseError::wrong_type:
      return "wrong_type";
  }
  return "unknown";
}

std::expected<MessageType, ParseError> message_type(std::span<const std::uint8_t> packet) {
  if (packet.size() < 4) return std::unexpected(ParseError::too_short);
  const std::uint32_t type = Reader(packet).u32();
  if (type < 1 || type > 4) return std::unexpected(ParseError::unknown_type);
  return static_cast<MessageType>(type);
}

std::expected<HandshakeInitiation, ParseError> parse_initiation(std::span<const std::uint8_t> packet) {
  if (auto ok = check(packet, MessageType::handshake_initiation); !ok) return std::unexpected(ok.error());
  Reader in(packet);
  in.u32();
  HandshakeInitiation m;
  m.sender_index = in.u32();
  in.bytes(m.ephemeral);
  in.bytes(m.encrypted_static);
  in.bytes(m.encrypted_timestamp);
  in.bytes(m.mac1);
  in.bytes(m.mac2);
  return m;
}

std::expected<HandshakeResponse, ParseError> parse_response(std::span<const std::uint8_t> packet) {
  if (auto ok = check(packet, MessageType::handshake_response); !ok) return std::unexpected(ok.error());
  Reader in(packet);
  in.u32();
  HandshakeResponse m;
  m.sender_index = in.u32();
  m.receiver_index = in.u32();
  in.bytes(m.ephemeral);
  in.bytes(m.encrypted_nothing);
  in.bytes(m.mac1);
  in.bytes(m.mac2);
  return m;
}

std::expected<CookieReply, ParseError> parse_cookie_reply(std::span<const std::uint8_t> packet) {
  if (auto ok = check(packet, MessageType::cookie_reply); !ok) return std::unexpected(ok.error());
  Reader in(packet);
  in.u32();
  CookieReply m;
  m.receiver_index = in.u32();
  in.bytes(m.nonce);
  in.bytes(m.encrypted_cookie);
  return m;
}

std::expected<TransportData, ParseError> parse_transport_data(std::span<const std::uint8_t> packet) {
  if (auto ok = check(packet, MessageType::transport_data); !ok) return std::unexpected(ok.error());
  Reader in(packet);
  in.u32();
  TransportData m;
  m.receiver_index = in.u32();
  m.counter = in.u64();
  m.encrypted = in.rest();
  return m;
}

std::expected<Message, ParseError> parse_message(std::span<const std::uint8_t> packet) {
  const auto type = message_type(packet);
  if (!type) return std::unexpected(type.error());
  // Wraps each parser's result in the variant.
  const auto lift = [](auto parsed) -> std::expected<Message, ParseError> {
    if (!parsed) return std::unexpected(parsed.error());
    return Message(*parsed);
  };
  switch (*type) {
    case MessageType::handshake_initiation:
      return lift(parse_initiation(packet));
    case MessageType::handshake_response:
      return lift(parse_response(packet));
    case MessageType::cookie_reply:
      return lift(parse_cookie_reply(packet));
    case MessageType::transport_data:
      return lift(parse_transport_data(packet));
  }
  return std::unexpected(ParseError::unknown_type);
}

std::array<std::uint8_t, kInitiationBytes> serialize(const HandshakeInitiation& m) {
  std::array<std::uint8_t, kInitiationBytes> out{};
  Writer w(out);
  w.u32(static_cast<std::uint32_t>(MessageType::handshake_initiation));
  w.u32(m.sender_index);
  w.bytes(m.ephemeral);
  w.bytes(m.encrypted_static);
  w.bytes(m.encrypted_timestamp);
  w.bytes(m.mac1);
  w.bytes(m.mac2);
  if (!w.done()) std::abort();  // the layout above is the whole message
  return out;
}

std::array<std::uint8_t, kResponseBytes> serialize(const HandshakeResponse& m) {
  std::array<std::uint8_t, kResponseBytes> out{};
  Writer w(out);
  w.u32(static_cast<std::uint32_t>(MessageType::handshake_response));
  w.u32(m.sender_index);
  w.u32(m.receiver_index);
  w.bytes(m.ephemeral);
  w.bytes(m.encrypted_nothing);
  w.bytes(m.mac1);
  w.bytes(m.mac2);
  if (!w.done()) std::abort();
  return out;
}

std::array<std::uint8_t, kCookieReplyBytes> serialize(const CookieReply& m) {
  std::array<std::uint8_t, kCookieReplyBytes> out{};
  Writer w(out);
  w.u32(static_cast<std::uint32_t>(MessageType::cookie_reply));
  w.u32(m.receiver_index);
  w.bytes(m.nonce);
  w.bytes(m.encrypted_cookie);
  if (!w.done()) std::abort();
  return out;
}

void write_transport_header(std::uint32_t receiver_index, std::uint64_t counter,
                            std::span<std::uint8_t, kTransportDataHeaderBytes> out) {
  Writer w(out);
  w.u32(static_cast<std::uint32_t>(MessageType::transport_data));
  w.u32(receiver_index);
  w.u64(counter);
}

}  // namespace coral::wireguard
