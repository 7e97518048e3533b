#pragma once
// The four WireGuard messages on the wire (WireGuard paper, section 5.4;
// wireguard.com/protocol). Every message starts with a 4-byte type field:
// the type in the first byte and three reserved zero bytes (read together
// as a little-endian uint32 with value 1-4, as wireguard-go does). Indices
// and counters are little-endian.
//
//   initiation    148 = type 4, sender 4, ephemeral 32, static 32+16,
//                       timestamp 12+16, mac1 16, mac2 16
//   response       92 = type 4, sender 4, receiver 4, ephemeral 32,
//                       empty 0+16, mac1 16, mac2 16
//   cookie reply   64 = type 4, receiver 4, nonce 24, cookie 16+16
//   transport   >= 32 = type 4, receiver 4, counter 8, packet n+16
//
// Parsing faces the network: sizes are checked exactly before any field is
// read, and nothing here can read out of bounds or overflow on any input.
// Parsers copy the fixed fields out; only TransportData refers back into
// the caller's buffer.

#include <array>
#include <cstddef>
#include <cstdint>
#include <expected>
#include <span>
#include <string_view>
#include <variant>

namespace coral::wireguard {

enum class MessageType : std::uint8_t {
  handshake_initiation = 1,
  handshake_response = 2,
  cookie_reply = 3,
  transport_data = 4,
};
std::string_view to_string(MessageType type);

inline constexpr std::size_t kInitiationBytes = 148;
inline constexpr std::size_t kResponseBytes = 92;
inline constexpr std::size_t kCookieReplyBytes = 64;
inline constexpr std::size_t kTransportDataHeaderBytes = 16;
// A transport message with an empty (keepalive) payload: header and tag.
inline constexpr std::size_t kMinTransportDataBytes = 32;
inline constexpr std::size_t kMacBytes = 16;

using Mac = std::array<std::uint8_t, kMacBytes>;
using KeyField = std::array<std::uint8_t, 32>;

struct HandshakeInitiation {
  std::uint32_t sender_index = 0;
  KeyField ephemeral{};
  std::array<std::uint8_t, 32 + 16> encrypted_static{};
  std::array<std::uint8_t, 12 + 16> encrypted_timestamp{};
  Mac mac1{};
  Mac mac2{};

  bool operator==(const HandshakeInitiation&) const = default;
};

struct HandshakeResponse {
  std::uint32_t sender_index = 0;
  std::uint32_t receiver_index = 0;
  KeyField ephemeral{};
  std::array<std::uint8_t, 16> encrypted_nothing{};
  Mac mac1{};
  Mac mac2{};

  bool operator==(const HandshakeResponse&) const = default;
};

struct CookieReply {
  std::uint32_t receiver_index = 0;
  std::array<std::uint8_t, 24> nonce{};
  std::array<std::uint8_t, 16 + 16> encrypted_cookie{};

  bool operator==(const CookieReply&) const = default;
};

// A parsed transport message. `encrypted` (payload and tag, at least 16
// bytes) points into the buffer that was parsed and lives as long as it.
struct TransportData {
  std::uint32_t receiver_index = 0;
  std::uint64_t counter = 0;
  std::span<const std::uint8_t> encrypted;
};

enum class ParseError : std::uint8_t {
  // Fewer than the 4 bytes of the type field, or a transport message
  // shorter than its header and tag (32 bytes).
  too_short,
  // A handshake or cookie message that is not exactly its fixed size.
  wrong_size,
  // The type field is not 1-4 with three zero bytes after it.
  unknown_type,
  // A parse_* function was given a valid message of another type.
  wrong_type,
};
std::string_view to_string(ParseError error);

// The type of `packet` from its type field alone (no size check beyond the
// field itself): for dispatch before parsing.
std::expected<MessageType, ParseError> message_type(std::span<const std::uint8_t> packet);

std::expected<HandshakeInitiation, ParseError> parse_initiation(std::span<const std::uint8_t> packet);
std::expected<HandshakeResponse, ParseError> parse_response(std::span<const std::uint8_t> packet);
std::expected<CookieReply, ParseError> parse_cookie_reply(std::span<const std::uint8_t> packet);
std::expected<TransportData, ParseError> parse_transport_data(std::span<const std::uint8_t> packet);

using Message = std::variant<HandshakeInitiation, HandshakeResponse, CookieReply, TransportData>;
// Any of the four, by type field.
std::expected<Message, ParseError> parse_message(std::span<const std::uint8_t> packet);

std::array<std::uint8_t, kInitiationBytes> serialize(const HandshakeInitiation& message);
std::array<std::uint8_t, kResponseBytes> serialize(const HandshakeResponse& message);
std::array<std::uint8_t, kCookieReplyBytes> serialize(const CookieReply& message);
// Writes the 16-byte transport header (type, receiver, counter) in front of
// a payload that the caller seals into the bytes after it.
void write_transport_header(std::uint32_t receiver_index, std::uint64_t counter,
                            std::span<std::uint8_t, kTransportDataHeaderBytes> out);

// Where mac1 and mac2 sit in a serialized initiation or response: the last
// 32 bytes (cookie.h computes them over the bytes before each).
inline constexpr std::size_t mac1_offset(std::size_t message_bytes) { return message_bytes - 2 * kMacBytes; }
inline constexpr std::size_t mac2_offset(std::size_t message_bytes) { return message_bytes - kMacBytes; }

}  // namespace coral::wireguard
