// The WireGuard message parsers (messages.h) over arbitrary bytes.
//
// Oracles: the outcome of message_type, parse_message and each parse_*
// matches a model of the wire format written here from the header's table
// (type field, exact sizes, the too_short / wrong_size / unknown_type /
// wrong_type rules); a message that parses serializes back to exactly the
// input (the fixed-size types), or, for transport data, its header and
// `encrypted` are exactly the input.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <expected>
#include <span>
#include <type_traits>
#include <variant>

#include "wireguard/messages.h"

namespace {

using namespace coral::wireguard;

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "wg_message_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

// The model: the type field is four bytes, 1-4 then three zeros.
std::expected<MessageType, ParseError> model_type(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < 4) return std::unexpected(ParseError::too_short);
  if (bytes[0] < 1 || bytes[0] > 4 || bytes[1] != 0 || bytes[2] != 0 || bytes[3] != 0) {
    return std::unexpected(ParseError::unknown_type);
  }
  return static_cast<MessageType>(bytes[0]);
}

// What parse_<want> must answer.
std::expected<void, ParseError> model_parse(std::span<const std::uint8_t> bytes, MessageType want) {
  const auto type = model_type(bytes);
  if (!type) return std::unexpected(type.error());
  if (*type != want) return std::unexpected(ParseError::wrong_type);
  switch (want) {
    case MessageType::handshake_initiation:
      if (bytes.size() != kInitiationBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::handshake_response:
      if (bytes.size() != kResponseBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::cookie_reply:
      if (bytes.size() != kCookieReplyBytes) return std::unexpected(ParseError::wrong_size);
      break;
    case MessageType::transport_data:
      if (bytes.size() < kMinTransportDataBytes) return std::unexpected(ParseError::too_short);
      break;
  }
  return {};
}

template <typename T>
void check_against_model(const std::expected<T, ParseError>& parsed, std::span<const std::uint8_t> bytes,
                         MessageType want) {
  const auto expected = model_parse(bytes, want);
  require(parsed.has_value() == expected.has_value(), "a parser accepts what the format refuses, or the reverse");
  if (!parsed) require(parsed.error() == expected.error(), "a parser gives the wrong error");
}

template <std::size_t N>
void require_same_bytes(const std::array<std::uint8_t, N>& serialized, std::span<const std::uint8_t> bytes) {
  require(bytes.size() == N && std::equal(serialized.begin(), serialized.end(), bytes.begin()),
          "a parsed message does not serialize back to its bytes");
}

std::uint32_t load32(std::span<const std::uint8_t> b, std::size_t at) {
  return std::uint32_t{b[at]} | std::uint32_t{b[at + 1]} << 8 | std::uint32_t{b[at + 2]} << 16 |
         std::uint32_t{b[at + 3]} << 24;
}

void check_transport(const TransportData& message, std::span<const std::uint8_t> bytes) {
  std::array<std::uint8_t, kTransportDataHeaderBytes> header{};
  write_transport_header(message.receiver_index, message.counter, header);
  require(std::equal(header.begin(), header.end(), bytes.begin()), "a transport header does not serialize back");
  require(message.receiver_index == load32(bytes, 4), "the receiver index is not bytes 4-7, little-endian");
  require(message.counter == (std::uint64_t{load32(bytes, 8)} | std::uint64_t{load32(bytes, 12)} << 32),
          "the counter is not bytes 8-15, little-endian");
  require(message.encrypted.data() == bytes.data() + kTransportDataHeaderBytes &&
              message.encrypted.size() == bytes.size() - kTransportDataHeaderBytes,
          "the encrypted part is not the rest of the buffer");
}

// parse_message answers as the parser of the type field's type does.
template <typename T>
void check_dispatch(const std::expected<Message, ParseError>& message, const std::expected<T, ParseError>& parsed,
                    std::span<const std::uint8_t> bytes) {
  require(message.has_value() == parsed.has_value(), "parse_message disagrees with the parser of the type");
  if (!message) {
    require(message.error() == parsed.error(), "parse_message gives another error");
    return;
  }
  if constexpr (std::is_same_v<T, TransportData>) {
    check_transport(std::get<TransportData>(*message), bytes);
  } else {
    require(std::get<T>(*message) == *parsed, "parse_message reads the message differently");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);

  const auto type = message_type(bytes);
  const auto model = model_type(bytes);
  require(type.has_value() == model.has_value(), "message_type disagrees with the type field");
  if (type) {
    require(*type == *model, "message_type reads the wrong type");
  } else {
    require(type.error() == model.error(), "message_type gives the wrong error");
  }

  const auto initiation = parse_initiation(bytes);
  const auto response = parse_response(bytes);
  const auto cookie = parse_cookie_reply(bytes);
  const auto transport = parse_transport_data(bytes);
  check_against_model(initiation, bytes, MessageType::handshake_initiation);
  check_against_model(response, bytes, MessageType::handshake_response);
  check_against_model(cookie, bytes, MessageType::cookie_reply);
  check_against_model(transport, bytes, MessageType::transport_data);
  if (initiation) {
    require_same_bytes(serialize(*initiation), bytes);
    require(std::equal(initiation->mac1.begin(), initiation->mac1.end(), bytes.begin() + mac1_offset(size)) &&
                std::equal(initiation->mac2.begin(), initiation->mac2.end(), bytes.begin() + mac2_offset(size)),
            "mac1 and mac2 are not where mac1_offset and mac2_offset say");
  }
  if (response) {
    require_same_bytes(serialize(*response), bytes);
    require(std::equal(response->mac1.begin(), response->mac1.end(), bytes.begin() + mac1_offset(size)) &&
                std::equal(response->mac2.begin(), response->mac2.end(), bytes.begin() + mac2_offset(size)),
            "mac1 and mac2 are not where mac1_offset and mac2_offset say");
  }
  if (cookie) require_same_bytes(serialize(*cookie), bytes);
  if (transport) check_transport(*transport, bytes);

  const auto message = parse_message(bytes);
  if (!type) {
    require(!message && message.error() == type.error(), "parse_message accepts a bad type field");
    return 0;
  }
  switch (*type) {
    case MessageType::handshake_initiation: check_dispatch(message, initiation, bytes); break;
    case MessageType::handshake_response: check_dispatch(message, response, bytes); break;
    case MessageType::cookie_reply: check_dispatch(message, cookie, bytes); break;
    case MessageType::transport_data: check_dispatch(message, transport, bytes); break;
  }
  return 0;
}
