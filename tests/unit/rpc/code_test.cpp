#include "rpc/code.h"

#include <gtest/gtest.h>

#include "rpc/context.h"

namespace coral::rpc {
namespace {

struct CodeRow {
  Code code;
  std::string_view name;
  int number;
  int http_status;
};

// The Connect specification's error-code table.
constexpr CodeRow kTable[] = {
    {Code::canceled, "canceled", 1, 499},
    {Code::unknown, "unknown", 2, 500},
    {Code::invalid_argument, "invalid_argument", 3, 400},
    {Code::deadline_exceeded, "deadline_exceeded", 4, 504},
    {Code::not_found, "not_found", 5, 404},
    {Code::already_exists, "already_exists", 6, 409},
    {Code::permission_denied, "permission_denied", 7, 403},
    {Code::resource_exhausted, "resource_exhausted", 8, 429},
    {Code::failed_precondition, "failed_precondition", 9, 400},
    {Code::aborted, "aborted", 10, 409},
    {Code::out_of_range, "out_of_range", 11, 400},
    {Code::unimplemented, "unimplemented", 12, 501},
    {Code::internal, "internal", 13, 500},
    {Code::unavailable, "unavailable", 14, 503},
    {Code::data_loss, "data_loss", 15, 500},
    {Code::unauthenticated, "unauthenticated", 16, 401},
};

TEST(Code, NamesNumbersAndHttpStatusesFollowTheSpecTable) {
  for (const CodeRow& row : kTable) {
    SCOPED_TRACE(row.name);
    EXPECT_EQ(to_string(row.code), row.name);
    EXPECT_EQ(parse_code(row.name), row.code);
    EXPECT_EQ(static_cast<int>(row.code), row.number);
    EXPECT_EQ(code_from_number(static_cast<std::uint64_t>(row.number)), row.code);
    EXPECT_EQ(connect_http_status(row.code), row.http_status);
  }
}

TEST(Code, OkIsNotAnErrorCodeName) {
  EXPECT_EQ(to_string(Code::ok), "ok");
  EXPECT_EQ(parse_code("ok"), std::nullopt);
  EXPECT_EQ(code_from_number(0), Code::ok);
}

TEST(Code, RejectsUnknownNamesAndNumbers) {
  EXPECT_EQ(parse_code(""), std::nullopt);
  EXPECT_EQ(parse_code("NOT_FOUND"), std::nullopt);  // Connect names are lower case
  EXPECT_EQ(parse_code("cancelled"), std::nullopt);  // Connect spells it "canceled"
  EXPECT_EQ(parse_code("not_found "), std::nullopt);
  EXPECT_EQ(code_from_number(17), std::nullopt);
  EXPECT_EQ(code_from_number(~std::uint64_t{0}), std::nullopt);
}

TEST(Code, HttpStatusToCodeForClients) {
  EXPECT_EQ(code_from_http_status(400), Code::internal);
  EXPECT_EQ(code_from_http_status(401), Code::unauthenticated);
  EXPECT_EQ(code_from_http_status(403), Code::permission_denied);
  EXPECT_EQ(code_from_http_status(404), Code::unimplemented);
  EXPECT_EQ(code_from_http_status(429), Code::unavailable);
  EXPECT_EQ(code_from_http_status(502), Code::unavailable);
  EXPECT_EQ(code_from_http_status(503), Code::unavailable);
  EXPECT_EQ(code_from_http_status(504), Code::unavailable);
  EXPECT_EQ(code_from_http_status(500), Code::unknown);
  EXPECT_EQ(code_from_http_status(409), Code::unknown);
  EXPECT_EQ(code_from_http_status(200), Code::unknown);
  EXPECT_EQ(code_from_http_status(-1), Code::unknown);
}

TEST(Context, ProtocolAndEncodingNames) {
  EXPECT_EQ(to_string(Protocol::connect), "connect");
  EXPECT_EQ(to_string(Protocol::grpc), "grpc");
  EXPECT_EQ(to_string(Protocol::grpc_web), "grpc_web");
  EXPECT_EQ(to_string(Encoding::proto), "proto");
  EXPECT_EQ(to_string(Encoding::json), "json");
}

}  // namespace
}  // namespace coral::rpc
