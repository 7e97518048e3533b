#include "rpc/protocol_connect.h"

#include <gtest/gtest.h>

#include <string>

namespace coral::rpc {
namespace {

using namespace std::string_literals;
using std::chrono::milliseconds;

// ---------------------------------------------------------------------------
// Content types

TEST(ConnectContentType, AcceptsTheFourTypes) {
  struct Row {
    const char* text;
    bool streaming;
    Encoding encoding;
  };
  for (const Row& row : {Row{"application/proto", false, Encoding::proto},
                         Row{"application/json", false, Encoding::json},
                         Row{"application/connect+proto", true, Encoding::proto},
                         Row{"application/connect+json", true, Encoding::json},
                         Row{"Application/JSON", false, Encoding::json},
                         Row{"application/json; charset=utf-8", false, Encoding::json},
                         Row{"application/json;charset=UTF-8", false, Encoding::json},
                         Row{"application/json; charset=\"utf-8\"", false, Encoding::json},
                         Row{"application/connect+json; charset=utf-8", true, Encoding::json},
                         Row{" application/proto ", false, Encoding::proto}}) {
    SCOPED_TRACE(row.text);
    auto parsed = parse_connect_content_type(row.text);
    ASSERT_TRUE(parsed);
    EXPECT_EQ(parsed->streaming, row.streaming);
    EXPECT_EQ(parsed->encoding, row.encoding);
  }
}

TEST(ConnectContentType, RejectsEverythingElse) {
  for (const char* text : {"", "application/grpc", "application/grpc+proto", "application/connect",
                           "application/connect+", "application/protobuf", "application/x-protobuf",
                           "text/json", "application/json; charset=latin-1", "application/json; foo=bar",
                           "application/json; charset", "application/jsonx", "application/connect+thrift"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(parse_connect_content_type(text));
  }
}

TEST(ConnectContentType, Format) {
  EXPECT_EQ(connect_content_type(false, Encoding::proto), "application/proto");
  EXPECT_EQ(connect_content_type(false, Encoding::json), "application/json");
  EXPECT_EQ(connect_content_type(true, Encoding::proto), "application/connect+proto");
  EXPECT_EQ(connect_content_type(true, Encoding::json), "application/connect+json");
}

// ---------------------------------------------------------------------------
// Error JSON

TEST(ConnectErrorJson, KnownAnswers) {
  EXPECT_EQ(connect_error_json(Error{Code::not_found, "no such user", {}}),
            R"({"code":"not_found","message":"no such user"})");
  EXPECT_EQ(connect_error_json(Error{Code::internal, "", {{"x-meta", "v"}}}), R"({"code":"internal"})");
  EXPECT_EQ(connect_error_json(Error{Code::ok, "oops", {}}), R"({"code":"unknown","message":"oops"})");
}

TEST(ConnectErrorJson, EscapesStrings) {
  EXPECT_EQ(connect_error_json(Error{Code::unknown, "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f", {}}),
            R"({"code":"unknown","message":"q\"b\\s/\n\r\t\b\f\u0001\u001f)" "\x7f" R"("})");
  // Valid UTF-8 passes through; invalid bytes become U+FFFD.
  EXPECT_EQ(connect_error_json(Error{Code::unknown, "caf\xc3\xa9 \xf0\x9f\x98\x80", {}}),
            "{\"code\":\"unknown\",\"message\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}");
  EXPECT_EQ(connect_error_json(Error{Code::unknown, "a\xff" "b\xc3", {}}),
            "{\"code\":\"unknown\",\"message\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd\"}");
  // Overlong encodings and UTF-8-encoded surrogates are invalid too: each
  // offending byte becomes one U+FFFD.
  std::string five;
  for (int i = 0; i < 5; ++i) five += "\xef\xbf\xbd";
  EXPECT_EQ(connect_error_json(Error{Code::unknown, "\xc0\xaf\xed\xa0\x80", {}}),
            "{\"code\":\"unknown\",\"message\":\"" + five + "\"}");
}

TEST(ConnectErrorJson, RoundTripsThroughTheParser) {
  const Error original{Code::resource_exhausted, "quota \"x\" \xe2\x9c\x93 exceeded\n", {}};
  const Error parsed = parse_connect_error(429, connect_error_json(original));
  EXPECT_EQ(parsed.code, original.code);
  EXPECT_EQ(parsed.message, original.message);
}

TEST(ParseConnectError, ValidBody) {
  const Error error = parse_connect_error(
      404, R"( { "code" : "not_found", "message": "user \u00e9 \ud83d\ude00 gone", "details": [{"type":"x","value":"AA"}] } )");
  EXPECT_EQ(error.code, Code::not_found);
  EXPECT_EQ(error.message, "user \xc3\xa9 \xf0\x9f\x98\x80 gone");
}

TEST(ParseConnectError, BodyCodeWinsOverHttpStatus) {
  EXPECT_EQ(parse_connect_error(500, R"({"code":"unauthenticated"})").code, Code::unauthenticated);
}

TEST(ParseConnectError, MissingOrUnknownCodeFallsBackToHttpStatus) {
  Error error = parse_connect_error(503, R"({"message":"try later"})");
  EXPECT_EQ(error.code, Code::unavailable);
  EXPECT_EQ(error.message, "try later");
  error = parse_connect_error(401, R"({"code":"teapot","message":"short and stout"})");
  EXPECT_EQ(error.code, Code::unauthenticated);
  EXPECT_EQ(error.message, "short and stout");
  error = parse_connect_error(400, R"({"code":"ok"})");
  EXPECT_EQ(error.code, Code::internal);
  EXPECT_EQ(error.message, R"(HTTP 400: {"code":"ok"})");
}

TEST(ParseConnectError, NonJsonBodyFromAProxy) {
  const Error error = parse_connect_error(502, "<html>\r\n<body>Bad Gateway</body>\x01</html>");
  EXPECT_EQ(error.code, Code::unavailable);
  EXPECT_EQ(error.message, "HTTP 502: <html>  <body>Bad Gateway</body>\xef\xbf\xbd</html>");
}

TEST(ParseConnectError, EmptyAndHugeBodies) {
  Error error = parse_connect_error(404, "");
  EXPECT_EQ(error.code, Code::unimplemented);
  EXPECT_EQ(error.message, "HTTP 404");

  error = parse_connect_error(500, std::string(10000, 'x'));
  EXPECT_EQ(error.code, Code::unknown);
  EXPECT_EQ(error.message, "HTTP 500: " + std::string(200, 'x') + "...");
}

TEST(ParseConnectError, MalformedJsonIsNotTrusted) {
  for (const char* body : {R"({"code":"not_found")", R"({"code":"not_found"} trailing)", R"({"code":not_found})",
                           R"({"code":["not_found"]})", R"([{"code":"not_found"}])", R"({"code":"not_found",})",
                           R"({"code":"not_found","message":"a	tab"})", R"({"code":"not_found","n":01})",
                           R"({'code':'not_found'})", R"({"code":"not_found","message":"\x"})"}) {
    SCOPED_TRACE(body);
    const Error error = parse_connect_error(403, body);
    EXPECT_EQ(error.code, Code::permission_denied);
    EXPECT_TRUE(error.message.starts_with("HTTP 403: ")) << error.message;
  }
}

TEST(ParseConnectError, DeepNestingIsRejectedNotACrash) {
  const std::string deep = R"({"code":"aborted","details":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_EQ(parse_connect_error(409, deep).code, Code::unknown);
  const std::string ok = R"({"code":"aborted","details":)" + std::string(20, '[') + std::string(20, ']') + "}";
  EXPECT_EQ(parse_connect_error(409, ok).code, Code::aborted);
}

// ---------------------------------------------------------------------------
// End of stream

TEST(ConnectEndStream, Empty) { EXPECT_EQ(connect_end_stream_json(nullptr, {}), "{}"); }

TEST(ConnectEndStream, MetadataOnlyGroupsValuesByName) {
  const http::Fields trailers = {{"x-a", "1"}, {"x-b", "2"}, {"x-a", "3"}};
  EXPECT_EQ(connect_end_stream_json(nullptr, trailers), R"({"metadata":{"x-a":["1","3"],"x-b":["2"]}})");
}

TEST(ConnectEndStream, ErrorAndMetadata) {
  const Error error{Code::canceled, "bye", {{"x-err", "e"}, {"x-a", "4"}}};
  const http::Fields trailers = {{"x-a", "1"}};
  EXPECT_EQ(connect_end_stream_json(&error, trailers),
            R"({"error":{"code":"canceled","message":"bye"},"metadata":{"x-a":["1","4"],"x-err":["e"]}})");
  const Error bare{Code::data_loss, "", {}};
  EXPECT_EQ(connect_end_stream_json(&bare, {}), R"({"error":{"code":"data_loss"}})");
}

TEST(ConnectEndStream, RoundTrip) {
  const Error error{Code::aborted, "conflict \xe2\x9c\x97", {}};
  const http::Fields trailers = {{"x-a", "1"}, {"x-b", "two words"}, {"x-a", "3"}};
  auto parsed = parse_connect_end_stream(connect_end_stream_json(&error, trailers));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_TRUE(parsed->error);
  EXPECT_EQ(parsed->error->code, Code::aborted);
  EXPECT_EQ(parsed->error->message, error.message);
  // Grouping by name reorders repeated names next to each other.
  const http::Fields expected = {{"x-a", "1"}, {"x-a", "3"}, {"x-b", "two words"}};
  ASSERT_EQ(parsed->metadata.size(), expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(parsed->metadata[i].name, expected[i].name);
    EXPECT_EQ(parsed->metadata[i].value, expected[i].value);
  }
  EXPECT_EQ(parsed->error->metadata.size(), expected.size());
}

TEST(ParseConnectEndStream, SuccessForms) {
  for (const char* json : {"{}", " { } ", R"({"error":null})", R"({"metadata":null})", R"({"metadata":{}})",
                           R"({"future":{"nested":[1,2.5e3,-0.1,true,false,null]}})"}) {
    SCOPED_TRACE(json);
    auto parsed = parse_connect_end_stream(json);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_FALSE(parsed->error);
    EXPECT_TRUE(parsed->metadata.empty());
  }
}

TEST(ParseConnectEndStream, LowerCasesMetadataNames) {
  auto parsed = parse_connect_end_stream(R"({"metadata":{"X-Trace-Id":["abc"],"empty":[]}})");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->metadata.size(), 1u);
  EXPECT_EQ(parsed->metadata[0].name, "x-trace-id");
  EXPECT_EQ(parsed->metadata[0].value, "abc");
}

TEST(ParseConnectEndStream, UnknownOrMissingCodeIsUnknown) {
  for (const char* json : {R"({"error":{"code":"new_code","message":"m"}})", R"({"error":{"message":"m"}})"}) {
    auto parsed = parse_connect_end_stream(json);
    ASSERT_TRUE(parsed);
    ASSERT_TRUE(parsed->error);
    EXPECT_EQ(parsed->error->code, Code::unknown);
    EXPECT_EQ(parsed->error->message, "m");
  }
}

TEST(ParseConnectEndStream, MalformedIsInternal) {
  for (const char* json : {"", "null", "[]", "{", R"({"error":"boom"})", R"({"error":{"code":5}})",
                           R"({"metadata":{"a":"not a list"}})", R"({"metadata":{"a":[1]}})",
                           R"({"metadata":[]})", "{} {}", R"({"error":{"code":"internal"})"}) {
    SCOPED_TRACE(json);
    auto parsed = parse_connect_end_stream(json);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, Code::internal);
    EXPECT_TRUE(parsed.error().message.starts_with("protocol error: invalid end-of-stream message"))
        << parsed.error().message;
  }
}

// ---------------------------------------------------------------------------
// Timeout

TEST(ConnectTimeout, Absent) {
  auto none = parse_connect_timeout(std::nullopt);
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto empty = parse_connect_timeout("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
}

TEST(ConnectTimeout, Valid) {
  EXPECT_EQ(*parse_connect_timeout("0"), milliseconds(0));
  EXPECT_EQ(*parse_connect_timeout("1500"), milliseconds(1500));
  EXPECT_EQ(*parse_connect_timeout("0000000001"), milliseconds(1));
  EXPECT_EQ(*parse_connect_timeout("9999999999"), milliseconds(9'999'999'999));
}

TEST(ConnectTimeout, Invalid) {
  for (const char* text : {"10000000000", "-1", "+1", "1.5", "1s", " 1", "1 ", "abc", "0x10",
                           "99999999999999999999999999"}) {
    SCOPED_TRACE(text);
    auto parsed = parse_connect_timeout(text);
    ASSERT_FALSE(parsed);
    EXPECT_EQ(parsed.error().code, Code::invalid_argument);
    EXPECT_NE(parsed.error().message.find("connect-timeout-ms"), std::string::npos);
  }
}

// ---------------------------------------------------------------------------
// GET

TEST(ConnectGet, Base64ProtoWithAndWithoutPadding) {
  // "hello" is aGVsbG8 in unpadded base64url.
  for (const char* query : {"connect=v1&encoding=proto&base64=1&message=aGVsbG8",
                            "message=aGVsbG8%3D&base64=1&encoding=proto", "message=aGVsbG8=&base64=1&encoding=proto"}) {
    SCOPED_TRACE(query);
    auto request = parse_connect_get_query(query);
    ASSERT_TRUE(request) << request.error().message;
    EXPECT_EQ(request->message, "hello");
    EXPECT_EQ(request->encoding, Encoding::proto);
    EXPECT_FALSE(request->compression);
  }
}

TEST(ConnectGet, Base64UsesTheUrlSafeAlphabet) {
  auto request = parse_connect_get_query("encoding=proto&base64=1&message=-_8");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->message, "\xfb\xff"s);
  auto standard = parse_connect_get_query("encoding=proto&base64=1&message=%2B%2F8");
  ASSERT_FALSE(standard);
  EXPECT_EQ(standard.error().code, Code::invalid_argument);
}

TEST(ConnectGet, PercentEncodedJson) {
  auto request = parse_connect_get_query(
      "encoding=json&message=%7B%22name%22%3A%22Ada+Lovelace%22%2C%22emoji%22%3A%22%F0%9F%98%80%22%7D&connect=v1");
  ASSERT_TRUE(request) << request.error().message;
  EXPECT_EQ(request->encoding, Encoding::json);
  EXPECT_EQ(request->message, "{\"name\":\"Ada Lovelace\",\"emoji\":\"\xf0\x9f\x98\x80\"}");
}

TEST(ConnectGet, CompressionAndUnknownParameters) {
  auto request = parse_connect_get_query("x=1&encoding=json&compression=gzip&base64=1&message=AAE&y");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->compression, "gzip");
  EXPECT_EQ(request->message, "\x00\x01"s);
  auto identity = parse_connect_get_query("encoding=json&compression=identity&message=%7B%7D");
  ASSERT_TRUE(identity);
  EXPECT_FALSE(identity->compression);
}

TEST(ConnectGet, EmptyMessageAndFirstValueWins) {
  auto request = parse_connect_get_query("encoding=proto&message=&message=ignored");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->message, "");
  auto no_equals = parse_connect_get_query("encoding=proto&message");
  ASSERT_TRUE(no_equals);
  EXPECT_EQ(no_equals->message, "");
}

TEST(ConnectGet, NotBase64UnlessBase64Is1) {
  auto request = parse_connect_get_query("encoding=proto&base64=0&message=aGVsbG8");
  ASSERT_TRUE(request);
  EXPECT_EQ(request->message, "aGVsbG8");
}

TEST(ConnectGet, Errors) {
  struct Row {
    const char* query;
    const char* mentions;
  };
  for (const Row& row : {Row{"encoding=proto", "missing message"}, Row{"message=e30", "missing encoding"},
                         Row{"", "missing encoding"}, Row{"encoding=xml&message=x", "invalid message encoding"},
                         Row{"encoding=proto&message=a%zz", "percent-encoding"},
                         Row{"encoding=proto&message=a%2", "percent-encoding"},
                         Row{"encoding=proto&base64=1&message=a", "base64"},
                         Row{"encoding=proto&base64=1&message=a=b=", "base64"},
                         Row{"encoding=proto&base64=1&message=aGVsbG8==", "base64"},
                         Row{"encoding=proto&base64=1&message=aGV%20sbG8", "base64"},
                         Row{"connect=v2&encoding=proto&message=", "\"v1\""}}) {
    SCOPED_TRACE(row.query);
    auto request = parse_connect_get_query(row.query);
    ASSERT_FALSE(request);
    EXPECT_EQ(request.error().code, Code::invalid_argument);
    EXPECT_NE(request.error().message.find(row.mentions), std::string::npos) << request.error().message;
  }
}

TEST(ConnectGet, EncodeKnownAnswers) {
  EXPECT_EQ(encode_connect_get_query("hello", Encoding::proto), "connect=v1&encoding=proto&base64=1&message=aGVsbG8");
  EXPECT_EQ(encode_connect_get_query("{\"a\":\"b c\"}", Encoding::json),
            "connect=v1&encoding=json&message=%7B%22a%22%3A%22b+c%22%7D");
  EXPECT_EQ(encode_connect_get_query("\xfb\xff", Encoding::json, "gzip"),
            "connect=v1&encoding=json&base64=1&compression=gzip&message=-_8");
}

TEST(ConnectGet, EncodeThenParseRoundTrips) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  for (std::size_t n = 0; n <= all_bytes.size(); n += 17) {
    for (Encoding encoding : {Encoding::proto, Encoding::json}) {
      const std::string message = all_bytes.substr(0, n);
      auto request = parse_connect_get_query(encode_connect_get_query(message, encoding));
      ASSERT_TRUE(request) << request.error().message;
      EXPECT_EQ(request->message, message);
      EXPECT_EQ(request->encoding, encoding);
    }
  }
}

}  // namespace
}  // namespace coral::rpc
