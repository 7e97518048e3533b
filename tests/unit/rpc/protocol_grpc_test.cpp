#include "rpc/protocol_grpc.h"

#include <gtest/gtest.h>

#include <string>

namespace coral::rpc {
namespace {

using namespace std::string_literals;
using std::chrono::milliseconds;

std::string dump(const http::Fields& fields) {
  std::string out;
  for (const auto& field : fields) out += field.name + "=" + field.value + ";";
  return out;
}

// ---------------------------------------------------------------------------
// Content types

TEST(GrpcContentType, Accepted) {
  struct Row {
    const char* text;
    bool web;
    Encoding encoding;
  };
  for (const Row& row : {Row{"application/grpc", false, Encoding::proto},
                         Row{"application/grpc+proto", false, Encoding::proto},
                         Row{"application/grpc+json", false, Encoding::json},
                         Row{"application/grpc-web", true, Encoding::proto},
                         Row{"application/grpc-web+proto", true, Encoding::proto},
                         Row{"application/grpc-web+json", true, Encoding::json},
                         Row{"Application/GRPC-Web+JSON", true, Encoding::json},
                         Row{"application/grpc+proto; charset=utf-8", false, Encoding::proto},
                         Row{"application/grpc-web;charset=whatever", true, Encoding::proto}}) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_grpc_content_type(row.text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->web, row.web);
    EXPECT_EQ(parsed->encoding, row.encoding);
  }
}

TEST(GrpcContentType, Rejected) {
  for (const char* text : {"", "application/grpc+thrift", "application/grpc-web-text",
                           "application/grpc-web-text+proto", "application/grpcx", "application/proto",
                           "application/connect+proto", "application/grpc+", "text/grpc"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_grpc_content_type(text));
  }
}

TEST(GrpcContentType, Format) {
  EXPECT_EQ(grpc_content_type(false, Encoding::proto), "application/grpc");
  EXPECT_EQ(grpc_content_type(false, Encoding::json), "application/grpc+json");
  EXPECT_EQ(grpc_content_type(true, Encoding::proto), "application/grpc-web+proto");
  EXPECT_EQ(grpc_content_type(true, Encoding::json), "application/grpc-web+json");
}

// ---------------------------------------------------------------------------
// Timeouts

TEST(GrpcTimeout, Absent) {
  EXPECT_FALSE(*parse_grpc_timeout(std::nullopt));
  EXPECT_FALSE(*parse_grpc_timeout(""));
}

TEST(GrpcTimeout, Units) {
  EXPECT_EQ(*parse_grpc_timeout("2H"), milliseconds(7'200'000));
  EXPECT_EQ(*parse_grpc_timeout("3M"), milliseconds(180'000));
  EXPECT_EQ(*parse_grpc_timeout("4S"), milliseconds(4'000));
  EXPECT_EQ(*parse_grpc_timeout("5m"), milliseconds(5));
  EXPECT_EQ(*parse_grpc_timeout("6000u"), milliseconds(6));
  EXPECT_EQ(*parse_grpc_timeout("7000000n"), milliseconds(7));
}

TEST(GrpcTimeout, SubMillisecondRoundsUp) {
  EXPECT_EQ(*parse_grpc_timeout("1n"), milliseconds(1));
  EXPECT_EQ(*parse_grpc_timeout("1u"), milliseconds(1));
  EXPECT_EQ(*parse_grpc_timeout("1001u"), milliseconds(2));
  EXPECT_EQ(*parse_grpc_timeout("999999n"), milliseconds(1));
  EXPECT_EQ(*parse_grpc_timeout("0n"), milliseconds(0));
  EXPECT_EQ(*parse_grpc_timeout("0m"), milliseconds(0));
}

TEST(GrpcTimeout, MaxDigits) {
  EXPECT_EQ(*parse_grpc_timeout("99999999H"), milliseconds(99'999'999LL * 3'600'000));
  EXPECT_EQ(*parse_grpc_timeout("00000001S"), milliseconds(1000));
}

TEST(GrpcTimeout, Invalid) {
  for (const char* text : {"100000000m", "000000000S", "1", "m", "1h", "1s", "1x", "-1S", "+1S", "1.5S", " 1S",
                           "1S ", "1 S", "\x80S"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_grpc_timeout(text);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, Code::invalid_argument);
    EXPECT_NE(parsed.error().message.find("grpc-timeout"), std::string::npos);
  }
}

TEST(GrpcTimeout, Format) {
  EXPECT_EQ(format_grpc_timeout(milliseconds(-5)), "0m");
  EXPECT_EQ(format_grpc_timeout(milliseconds(0)), "0m");
  EXPECT_EQ(format_grpc_timeout(milliseconds(1)), "1m");
  EXPECT_EQ(format_grpc_timeout(milliseconds(99'999'999)), "99999999m");
  EXPECT_EQ(format_grpc_timeout(milliseconds(100'000'000)), "100000S");
  EXPECT_EQ(format_grpc_timeout(milliseconds(100'000'001)), "100001S");  // rounds up
  EXPECT_EQ(format_grpc_timeout(milliseconds(100'000'000'000)), "1666667M");
  EXPECT_EQ(format_grpc_timeout(milliseconds(7'000'000'000'000)), "1944445H");
  EXPECT_EQ(format_grpc_timeout(milliseconds::max()), "99999999H");
}

TEST(GrpcTimeout, FormatThenParseNeverShortens) {
  for (std::int64_t ms : {1LL, 999LL, 1000LL, 123'456'789LL, 99'999'999'999LL, 6'000'000'000'001LL}) {
    const std::string text = format_grpc_timeout(milliseconds(ms));
    EXPECT_LE(text.size(), 9u) << text;
    auto parsed = parse_grpc_timeout(text);
    ASSERT_TRUE(parsed) << text;
    EXPECT_GE(**parsed, milliseconds(ms)) << text;
  }
}

// ---------------------------------------------------------------------------
// grpc-message

TEST(GrpcPercent, EncodeKnownAnswers) {
  EXPECT_EQ(grpc_percent_encode("plain text ~!"), "plain text ~!");
  EXPECT_EQ(grpc_percent_encode("100%"), "100%25");
  EXPECT_EQ(grpc_percent_encode("a\r\nb\x7f"), "a%0D%0Ab%7F");
  EXPECT_EQ(grpc_percent_encode("caf\xc3\xa9"), "caf%C3%A9");
  EXPECT_EQ(grpc_percent_encode("\x00"s), "%00");
}

TEST(GrpcPercent, RoundTripIncludingNonAscii) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  for (const std::string& text : {all_bytes, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80 50% off"s, ""s}) {
    const std::string encoded = grpc_percent_encode(text);
    for (char c : encoded) {
      EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << "unsafe byte " << int(c);
    }
    EXPECT_EQ(grpc_percent_decode(encoded), text);
  }
}

TEST(GrpcPercent, DecodeIsLenient) {
  EXPECT_EQ(grpc_percent_decode("%e2%9C%93"), "\xe2\x9c\x93");
  EXPECT_EQ(grpc_percent_decode("100%"), "100%");
  EXPECT_EQ(grpc_percent_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(grpc_percent_decode("a%2"), "a%2");
  EXPECT_EQ(grpc_percent_decode("%%41"), "%A");
  EXPECT_EQ(grpc_percent_decode("+"), "+");  // not form encoding
}

// ---------------------------------------------------------------------------
// Status trailers

TEST(GrpcStatusTrailers, Ok) {
  EXPECT_EQ(dump(grpc_status_trailers(nullptr, {{"x-extra", "1"}})), "grpc-status=0;x-extra=1;");
}

TEST(GrpcStatusTrailers, ErrorLeavesItsMetadataToTheCaller) {
  const Error error{Code::permission_denied, "no \xe2\x9c\x97 way", {{"x-why", "policy"}}};
  EXPECT_EQ(dump(grpc_status_trailers(&error, {{"x-extra", "1"}, {"grpc-message", "forged"}, {"grpc-status", "0"}})),
            "grpc-status=7;grpc-message=no %E2%9C%97 way;x-extra=1;");
  const Error empty{Code::internal, "", {}};
  EXPECT_EQ(dump(grpc_status_trailers(&empty, {})), "grpc-status=13;grpc-message=;");
}

TEST(GrpcStatusFromTrailers, OkAndMissing) {
  EXPECT_TRUE(grpc_status_from_trailers({{"grpc-status", "0"}, {"grpc-message", "ignored"}}));
  auto missing = grpc_status_from_trailers({{"x-a", "b"}});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, Code::internal);
  EXPECT_NE(missing.error().message.find("missing grpc-status"), std::string::npos);
  EXPECT_FALSE(grpc_status_from_trailers({}));
}

TEST(GrpcStatusFromTrailers, Error) {
  auto status = grpc_status_from_trailers({{"content-type", "application/grpc"},
                                           {"grpc-status", "5"},
                                           {"grpc-message", "user %C3%A9 not found"},
                                           {"x-trace", "t1"},
                                           {"grpc-status-details-bin", "AAAA"},
                                           {"x-trace", "t2"}});
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::not_found);
  EXPECT_EQ(status.error().message, "user \xc3\xa9 not found");
  EXPECT_EQ(dump(status.error().metadata), "x-trace=t1;x-trace=t2;");
}

TEST(GrpcStatusFromTrailers, RoundTrip) {
  const Error error{Code::unavailable, "down\nfor maintenance 100%", {}};
  auto status = grpc_status_from_trailers(grpc_status_trailers(&error, {{"retry-after", "5"}}));
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::unavailable);
  EXPECT_EQ(status.error().message, error.message);
  EXPECT_EQ(dump(status.error().metadata), "retry-after=5;");
}

TEST(GrpcStatusFromTrailers, BadCodesAreUnknown) {
  for (const char* code : {"17", "99999999999999999999", "abc", "-1", ""}) {
    SCOPED_TRACE(code);
    auto status = grpc_status_from_trailers({{"grpc-status", code}, {"grpc-message", "m"}});
    ASSERT_FALSE(status);
    EXPECT_EQ(status.error().code, Code::unknown);
    EXPECT_NE(status.error().message.find("invalid grpc-status"), std::string::npos);
    EXPECT_NE(status.error().message.find(": m"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// gRPC-Web trailer block

TEST(GrpcWebTrailers, Encode) {
  EXPECT_EQ(encode_grpc_web_trailers({{"grpc-status", "0"}, {"X-Mixed", "a\r\nb"}}),
            "grpc-status: 0\r\nx-mixed: a  b\r\n");
  EXPECT_EQ(encode_grpc_web_trailers({}), "");
}

TEST(GrpcWebTrailers, ParseTolerant) {
  auto fields = parse_grpc_web_trailers("Grpc-Status: 3\r\ngrpc-message:bad%20input \r\n\r\nx-a:\tv\nx-empty:");
  ASSERT_TRUE(fields) << fields.error().message;
  EXPECT_EQ(dump(*fields), "grpc-status=3;grpc-message=bad%20input;x-a=v;x-empty=;");
}

TEST(GrpcWebTrailers, RoundTrip) {
  const http::Fields trailers = {{"grpc-status", "13"}, {"grpc-message", "a%3Ab"}, {"x-bin", "\xc3\xa9 : colon"}};
  auto fields = parse_grpc_web_trailers(encode_grpc_web_trailers(trailers));
  ASSERT_TRUE(fields);
  EXPECT_EQ(dump(*fields), dump(trailers));
}

TEST(GrpcWebTrailers, Malformed) {
  for (const char* block : {"no colon here\r\n", ": empty name\r\n", "bad name: v\r\n", "x-a: a\rb\r\n",
                            "x-a: nul\x01\r\n", "x(a): v"}) {
    SCOPED_TRACE(block);
    auto fields = parse_grpc_web_trailers(block);
    ASSERT_FALSE(fields);
    EXPECT_EQ(fields.error().code, Code::internal);
    EXPECT_NE(fields.error().message.find("gRPC-Web trailer"), std::string::npos);
  }
}

TEST(GrpcWebTrailers, ThenStatus) {
  auto fields = parse_grpc_web_trailers("grpc-status: 16\r\ngrpc-message: who%20are%20you\r\n");
  ASSERT_TRUE(fields);
  auto status = grpc_status_from_trailers(*fields);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().code, Code::unauthenticated);
  EXPECT_EQ(status.error().message, "who are you");
}

}  // namespace
}  // namespace coral::rpc
