#include "rpc/envelope.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace coral::rpc {
namespace {

using namespace std::string_literals;

constexpr std::size_t kMiB = 1024 * 1024;

std::vector<Envelope> drain(EnvelopeReader& reader) {
  std::vector<Envelope> out;
  while (auto envelope = reader.next()) out.push_back(std::move(*envelope));
  return out;
}

TEST(AppendEnvelope, KnownBytes) {
  std::string out = "x";
  append_envelope(out, 0, "hi");
  append_envelope(out, kFlagEndStream, "");
  append_envelope(out, kFlagGrpcWebTrailers | kFlagCompressed, std::string(0x01020304 & 0xFFFF, 'a'));
  ASSERT_EQ(out.size(), 1 + 7 + 5 + 5 + 0x0304);
  EXPECT_EQ(out.substr(0, 13), "x\x00\x00\x00\x00\x02hi\x02\x00\x00\x00\x00"s);
  EXPECT_EQ(out.substr(13, 5), "\x81\x00\x00\x03\x04"s);
}

TEST(AppendEnvelope, LengthIsBigEndian) {
  std::string out;
  append_envelope(out, 0, std::string(0x010203, 'z'));
  EXPECT_EQ(out.substr(0, 5), "\x00\x00\x01\x02\x03"s);
}

TEST(EnvelopeReader, ReadsOneMessage) {
  EnvelopeReader reader(4 * kMiB);
  ASSERT_TRUE(reader.feed("\x00\x00\x00\x00\x05hello"s));
  auto envelope = reader.next();
  ASSERT_TRUE(envelope);
  EXPECT_EQ(envelope->flags, 0);
  EXPECT_EQ(envelope->payload, "hello");
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.has_partial());
}

TEST(EnvelopeReader, AcceptsByteSpans) {
  EnvelopeReader reader(16);
  const std::byte bytes[] = {std::byte{2}, std::byte{0}, std::byte{0}, std::byte{0}, std::byte{2},
                             std::byte{'{'}, std::byte{'}'}};
  ASSERT_TRUE(reader.feed(std::span<const std::byte>(bytes)));
  auto envelope = reader.next();
  ASSERT_TRUE(envelope);
  EXPECT_EQ(envelope->flags, kFlagEndStream);
  EXPECT_EQ(envelope->payload, "{}");
}

TEST(EnvelopeReader, ZeroLengthMessages) {
  EnvelopeReader reader(0);  // a limit of 0 still admits empty messages
  ASSERT_TRUE(reader.feed("\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00"s));
  auto all = drain(reader);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].flags, 0);
  EXPECT_EQ(all[0].payload, "");
  EXPECT_EQ(all[1].flags, kFlagEndStream);
  EXPECT_FALSE(reader.has_partial());
}

TEST(EnvelopeReader, FlagsArePassedThroughUninterpreted) {
  EnvelopeReader reader(10);
  ASSERT_TRUE(reader.feed("\xff\x00\x00\x00\x01z"s));
  auto envelope = reader.next();
  ASSERT_TRUE(envelope);
  EXPECT_EQ(envelope->flags, 0xff);
}

TEST(EnvelopeReader, ManyMessagesInOneFeed) {
  std::string wire;
  for (int i = 0; i < 1000; ++i) append_envelope(wire, static_cast<std::uint8_t>(i & 1), std::to_string(i));
  EnvelopeReader reader(4 * kMiB);
  ASSERT_TRUE(reader.feed(wire));
  auto all = drain(reader);
  ASSERT_EQ(all.size(), 1000u);
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(all[i].payload, std::to_string(i));
    EXPECT_EQ(all[i].flags, i & 1);
  }
  EXPECT_FALSE(reader.has_partial());
}

TEST(EnvelopeReader, OneByteAtATime) {
  std::string wire;
  append_envelope(wire, 0, "first");
  append_envelope(wire, 0, "");
  append_envelope(wire, kFlagCompressed, std::string(300, 'q'));
  append_envelope(wire, kFlagEndStream, "{}");
  EnvelopeReader reader(4 * kMiB);
  std::vector<Envelope> all;
  for (std::size_t i = 0; i < wire.size(); ++i) {
    ASSERT_TRUE(reader.feed(std::string_view(wire).substr(i, 1)));
    for (auto& envelope : drain(reader)) all.push_back(std::move(envelope));
    // Partial exactly while we're inside an envelope.
    const bool at_boundary = i + 1 == 5 + 5 || i + 1 == 10 + 5 || i + 1 == 15 + 305 || i + 1 == wire.size();
    EXPECT_EQ(reader.has_partial(), !at_boundary) << "after byte " << i;
  }
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].payload, "first");
  EXPECT_EQ(all[1].payload, "");
  EXPECT_EQ(all[2].payload, std::string(300, 'q'));
  EXPECT_EQ(all[2].flags, kFlagCompressed);
  EXPECT_EQ(all[3].payload, "{}");
}

TEST(EnvelopeReader, EveryChunkingGivesTheSameMessages) {
  std::string wire;
  for (int i = 0; i < 20; ++i) append_envelope(wire, 0, std::string(static_cast<std::size_t>(i * 7), char('a' + i)));
  for (std::size_t chunk = 1; chunk <= wire.size(); chunk += 13) {
    EnvelopeReader reader(1000);
    std::vector<Envelope> all;
    for (std::size_t i = 0; i < wire.size(); i += chunk) {
      ASSERT_TRUE(reader.feed(std::string_view(wire).substr(i, chunk)));
      for (auto& envelope : drain(reader)) all.push_back(std::move(envelope));
    }
    ASSERT_EQ(all.size(), 20u) << "chunk " << chunk;
    for (int i = 0; i < 20; ++i) EXPECT_EQ(all[i].payload, std::string(static_cast<std::size_t>(i * 7), char('a' + i)));
    EXPECT_FALSE(reader.has_partial());
  }
}

TEST(EnvelopeReader, TruncatedHeaderAndPayloadArePartial) {
  EnvelopeReader header_only(100);
  ASSERT_TRUE(header_only.feed("\x00\x00\x00"s));
  EXPECT_FALSE(header_only.next());
  EXPECT_TRUE(header_only.has_partial());

  EnvelopeReader short_payload(100);
  ASSERT_TRUE(short_payload.feed("\x00\x00\x00\x00\x0a" "abc"s));
  EXPECT_FALSE(short_payload.next());
  EXPECT_TRUE(short_payload.has_partial());

  EnvelopeReader complete_then_partial(100);
  ASSERT_TRUE(complete_then_partial.feed("\x00\x00\x00\x00\x01z\x00\x00"s));
  ASSERT_TRUE(complete_then_partial.next());
  EXPECT_FALSE(complete_then_partial.next());
  EXPECT_TRUE(complete_then_partial.has_partial());
}

TEST(EnvelopeReader, HasPartialIgnoresCompleteButUnreadEnvelopes) {
  EnvelopeReader reader(100);
  ASSERT_TRUE(reader.feed("\x00\x00\x00\x00\x01z"s));
  EXPECT_FALSE(reader.has_partial());
}

TEST(EnvelopeReader, LyingLengthFailsImmediately) {
  EnvelopeReader reader(4 * kMiB);
  // 1 GiB announced; only the header has arrived.
  auto status = reader.feed("\x00\x40\x00\x00\x00"s);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::resource_exhausted);
  EXPECT_NE(status.error().message.find("1073741824"), std::string::npos) << status.error().message;
  EXPECT_NE(status.error().message.find("4194304"), std::string::npos) << status.error().message;
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.has_partial());
  // Sticky.
  auto again = reader.feed("more"s);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, Code::resource_exhausted);
}

TEST(EnvelopeReader, OversizedHeaderSplitAcrossFeedsFailsWhenComplete) {
  EnvelopeReader reader(10);
  ASSERT_TRUE(reader.feed("\x00\x00\x00"s));
  auto status = reader.feed("\x00\x0b"s);  // 11 > 10
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::resource_exhausted);
}

TEST(EnvelopeReader, OversizedSecondMessageInSameFeedIsCaught) {
  std::string wire;
  append_envelope(wire, 0, "ok");
  wire += "\x00\xff\xff\xff\xff"s;
  EnvelopeReader reader(100);
  auto status = reader.feed(wire);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::resource_exhausted);
  EXPECT_NE(status.error().message.find("4294967295"), std::string::npos);
}

TEST(EnvelopeReader, ExactlyTheLimitIsAllowed) {
  std::string wire;
  append_envelope(wire, 0, std::string(64, 'x'));
  EnvelopeReader reader(64);
  ASSERT_TRUE(reader.feed(wire));
  auto envelope = reader.next();
  ASSERT_TRUE(envelope);
  EXPECT_EQ(envelope->payload.size(), 64u);
}

TEST(EnvelopeReader, LargeStreamInSmallChunksStaysCorrectAcrossCompaction) {
  // Enough traffic to cross the compaction threshold many times while a
  // message is always pending.
  std::string wire;
  for (int i = 0; i < 3000; ++i) append_envelope(wire, 0, std::string(100 + static_cast<std::size_t>(i % 50), char(i)));
  EnvelopeReader reader(4 * kMiB);
  int seen = 0;
  for (std::size_t i = 0; i < wire.size(); i += 777) {
    ASSERT_TRUE(reader.feed(std::string_view(wire).substr(i, 777)));
    // Read only some of what is available, so unread envelopes pile up.
    if (i % 2 == 0) {
      if (auto envelope = reader.next()) {
        EXPECT_EQ(envelope->payload, std::string(100 + static_cast<std::size_t>(seen % 50), char(seen)));
        ++seen;
      }
    }
  }
  while (auto envelope = reader.next()) {
    EXPECT_EQ(envelope->payload, std::string(100 + static_cast<std::size_t>(seen % 50), char(seen)));
    ++seen;
  }
  EXPECT_EQ(seen, 3000);
  EXPECT_FALSE(reader.has_partial());
}

TEST(EnvelopeReader, EmptyFeedIsANoOp) {
  EnvelopeReader reader(10);
  ASSERT_TRUE(reader.feed(std::string_view()));
  EXPECT_FALSE(reader.next());
  EXPECT_FALSE(reader.has_partial());
}

}  // namespace
}  // namespace coral::rpc
