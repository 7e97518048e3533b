#include "wireguard/messages.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace coral::wireguard {
namespace {

using Bytes = std::vector<std::uint8_t>;

template <std::size_t N>
std::array<std::uint8_t, N> counting(std::uint8_t first) {
  std::array<std::uint8_t, N> out{};
  for (std::size_t i = 0; i < N; ++i) out[i] = static_cast<std::uint8_t>(first + i);
  return out;
}

HandshakeInitiation sample_initiation() {
  HandshakeInitiation m;
  m.sender_index = 0x04030201;
  m.ephemeral = counting<32>(0x10);
  m.encrypted_static = counting<48>(0x30);
  m.encrypted_timestamp = counting<28>(0x60);
  m.mac1 = counting<16>(0x80);
  m.mac2 = counting<16>(0x90);
  return m;
}

HandshakeResponse sample_response() {
  HandshakeResponse m;
  m.sender_index = 0x0d0c0b0a;
  m.receiver_index = 0x04030201;
  m.ephemeral = counting<32>(0x10);
  m.encrypted_nothing = counting<16>(0x40);
  m.mac1 = counting<16>(0x80);
  m.mac2 = counting<16>(0x90);
  return m;
}

CookieReply sample_cookie_reply() {
  CookieReply m;
  m.receiver_index = 0xfffefdfc;
  m.nonce = counting<24>(0x20);
  m.encrypted_cookie = counting<32>(0x50);
  return m;
}

// The layout, spelled out byte by byte from the paper's message figures.
TEST(Messages, InitiationLayout) {
  const auto bytes = serialize(sample_initiation());
  ASSERT_EQ(bytes.size(), 148U);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 8), (Bytes{1, 0, 0, 0, 0x01, 0x02, 0x03, 0x04}));
  EXPECT_EQ(bytes[8], 0x10);     // ephemeral
  EXPECT_EQ(bytes[39], 0x2f);    // its last byte
  EXPECT_EQ(bytes[40], 0x30);    // encrypted static
  EXPECT_EQ(bytes[88], 0x60);    // encrypted timestamp
  EXPECT_EQ(bytes[116], 0x80);   // mac1
  EXPECT_EQ(bytes[132], 0x90);   // mac2
  EXPECT_EQ(bytes[147], 0x9f);
  EXPECT_EQ(mac1_offset(bytes.size()), 116U);
  EXPECT_EQ(mac2_offset(bytes.size()), 132U);
  const auto parsed = parse_initiation(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, sample_initiation());
}

TEST(Messages, ResponseLayout) {
  const auto bytes = serialize(sample_response());
  ASSERT_EQ(bytes.size(), 92U);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 12), (Bytes{2, 0, 0, 0, 0x0a, 0x0b, 0x0c, 0x0d, 1, 2, 3, 4}));
  EXPECT_EQ(bytes[12], 0x10);  // ephemeral
  EXPECT_EQ(bytes[44], 0x40);  // encrypted nothing
  EXPECT_EQ(bytes[60], 0x80);  // mac1
  EXPECT_EQ(bytes[76], 0x90);  // mac2
  EXPECT_EQ(mac1_offset(bytes.size()), 60U);
  const auto parsed = parse_response(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, sample_response());
}

TEST(Messages, CookieReplyLayout) {
  const auto bytes = serialize(sample_cookie_reply());
  ASSERT_EQ(bytes.size(), 64U);
  EXPECT_EQ(Bytes(bytes.begin(), bytes.begin() + 8), (Bytes{3, 0, 0, 0, 0xfc, 0xfd, 0xfe, 0xff}));
  EXPECT_EQ(bytes[8], 0x20);   // nonce
  EXPECT_EQ(bytes[32], 0x50);  // encrypted cookie
  EXPECT_EQ(bytes[63], 0x6f);
  const auto parsed = parse_cookie_reply(bytes);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, sample_cookie_reply());
}

TEST(Messages, TransportHeaderAndPayloadView) {
  Bytes packet(16 + 16 + 5, 0xEE);
  write_transport_header(0x11223344, 0x0102030405060708ULL, std::span(packet).first<16>());
  EXPECT_EQ(Bytes(packet.begin(), packet.begin() + 16),
            (Bytes{4, 0, 0, 0, 0x44, 0x33, 0x22, 0x11, 8, 7, 6, 5, 4, 3, 2, 1}));
  const auto parsed = parse_transport_data(packet);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->receiver_index, 0x11223344U);
  EXPECT_EQ(parsed->counter, 0x0102030405060708ULL);
  EXPECT_EQ(parsed->encrypted.data(), packet.data() + 16);  // a view, not a copy
  EXPECT_EQ(parsed->encrypted.size(), 21U);
}

TEST(Messages, SizesAreExact) {
  const auto initiation = serialize(sample_initiation());
  Bytes longer(initiation.begin(), initiation.end());
  longer.push_back(0);
  EXPECT_EQ(parse_initiation(longer).error(), ParseError::wrong_size);
  EXPECT_EQ(parse_initiation(std::span(initiation).first(147)).error(), ParseError::wrong_size);
  const auto response = serialize(sample_response());
  EXPECT_EQ(parse_response(std::span(response).first(91)).error(), ParseError::wrong_size);
  const auto reply = serialize(sample_cookie_reply());
  EXPECT_EQ(parse_cookie_reply(std::span(reply).first(63)).error(), ParseError::wrong_size);

  Bytes transport(32, 0);
  write_transport_header(1, 2, std::span(transport).first<16>());
  EXPECT_TRUE(parse_transport_data(transport));  // a keepalive: header and tag
  EXPECT_EQ(parse_transport_data(std::span(transport).first(31)).error(), ParseError::too_short);
  EXPECT_EQ(parse_transport_data(std::span(transport).first(16)).error(), ParseError::too_short);
}

TEST(Messages, TypeFieldMustBeOneToFourWithZeroReservedBytes) {
  Bytes packet(148, 0);
  EXPECT_EQ(message_type({}).error(), ParseError::too_short);
  EXPECT_EQ(message_type(std::span(packet).first(3)).error(), ParseError::too_short);
  for (const std::uint8_t type : {0, 5, 255}) {
    packet[0] = type;
    EXPECT_EQ(message_type(packet).error(), ParseError::unknown_type) << int(type);
    EXPECT_EQ(parse_message(packet).error(), ParseError::unknown_type);
  }
  packet[0] = 1;
  for (const std::size_t reserved : {1, 2, 3}) {
    packet[reserved] = 1;
    EXPECT_EQ(message_type(packet).error(), ParseError::unknown_type) << reserved;
    EXPECT_EQ(parse_initiation(packet).error(), ParseError::unknown_type);
    packet[reserved] = 0;
  }
  EXPECT_EQ(message_type(packet).value(), MessageType::handshake_initiation);
}

TEST(Messages, WrongTypeIsReportedWhateverTheSize) {
  const auto response = serialize(sample_response());
  EXPECT_EQ(parse_initiation(response).error(), ParseError::wrong_type);
  EXPECT_EQ(parse_cookie_reply(response).error(), ParseError::wrong_type);
  EXPECT_EQ(parse_transport_data(response).error(), ParseError::wrong_type);
  const auto initiation = serialize(sample_initiation());
  EXPECT_EQ(parse_response(initiation).error(), ParseError::wrong_type);
}

TEST(Messages, ParseMessageDispatchesByType) {
  const auto initiation = serialize(sample_initiation());
  const auto response = serialize(sample_response());
  const auto reply = serialize(sample_cookie_reply());
  Bytes transport(40, 0);
  write_transport_header(9, 10, std::span(transport).first<16>());
  EXPECT_EQ(std::get<HandshakeInitiation>(parse_message(initiation).value()), sample_initiation());
  EXPECT_EQ(std::get<HandshakeResponse>(parse_message(response).value()), sample_response());
  EXPECT_EQ(std::get<CookieReply>(parse_message(reply).value()), sample_cookie_reply());
  EXPECT_EQ(std::get<TransportData>(parse_message(transport).value()).counter, 10U);
  EXPECT_EQ(parse_message(std::span(initiation).first(100)).error(), ParseError::wrong_size);
}

TEST(Messages, ToStringNamesEveryValue) {
  EXPECT_EQ(to_string(ParseError::too_short), "too_short");
  EXPECT_EQ(to_string(ParseError::wrong_size), "wrong_size");
  EXPECT_EQ(to_string(ParseError::unknown_type), "unknown_type");
  EXPECT_EQ(to_string(ParseError::wrong_type), "wrong_type");
  EXPECT_EQ(to_string(MessageType::cookie_reply), "cookie_reply");
}

// Every size from 0 to past the largest fixed size, every type byte, and
// random contents: parsing either fails cleanly or round-trips. (Under
// ASan this is the cheap stand-in for the fuzz target.)
TEST(Messages, ArbitraryInputParsesOrFailsCleanly) {
  std::mt19937 random(7);
  for (std::size_t size = 0; size <= 200; ++size) {
    for (int round = 0; round < 12; ++round) {
      Bytes packet(size);
      for (auto& byte : packet) byte = static_cast<std::uint8_t>(random());
      if (size >= 4 && round < 8) {
        packet[0] = static_cast<std::uint8_t>(round % 5);
        packet[1] = packet[2] = packet[3] = 0;
      }
      const auto parsed = parse_message(packet);
      if (!parsed) continue;
      std::visit(
          [&](const auto& message) {
            using T = std::decay_t<decltype(message)>;
            if constexpr (std::is_same_v<T, TransportData>) {
              EXPECT_GE(size, kMinTransportDataBytes);
              EXPECT_EQ(message.encrypted.size(), size - 16);
            } else {
              const auto bytes = serialize(message);
              EXPECT_EQ(Bytes(bytes.begin(), bytes.end()), packet);
            }
          },
          *parsed);
    }
  }
}

}  // namespace
}  // namespace coral::wireguard
