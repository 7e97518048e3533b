#pragma once
// The Connect protocol's wire pieces (https://connectrpc.com/docs/protocol):
// content types, error and end-of-stream JSON, timeouts, unary GET queries.
// Pure functions over bytes; the server and client compose them.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "rpc/context.h"
#include "rpc/error.h"

namespace coral::rpc {

// Header names (lower case, as http::Fields carries them).
inline constexpr std::string_view kContentTypeHeader = "content-type";
inline constexpr std::string_view kConnectProtocolVersion = "connect-protocol-version";
inline constexpr std::string_view kConnectProtocolVersionValue = "1";
inline constexpr std::string_view kConnectTimeoutMs = "connect-timeout-ms";
// Unary calls negotiate compression with the standard HTTP headers...
inline constexpr std::string_view kContentEncodingHeader = "content-encoding";
inline constexpr std::string_view kAcceptEncodingHeader = "accept-encoding";
// ...streaming calls with these, since each envelope is compressed on its own.
inline constexpr std::string_view kConnectContentEncoding = "connect-content-encoding";
inline constexpr std::string_view kConnectAcceptEncoding = "connect-accept-encoding";
// Unary responses carry trailers as headers with this prefix.
inline constexpr std::string_view kConnectUnaryTrailerPrefix = "trailer-";
// The Content-Type of every unary error body.
inline constexpr std::string_view kConnectErrorContentType = "application/json";

// Content types.
struct ConnectContentType {
  bool streaming = false;
  Encoding encoding = Encoding::proto;
};
// application/{proto,json} (unary) and application/connect+{proto,json}
// (streaming), case-insensitive. The only parameter accepted is
// charset=utf-8 (as browsers add it to JSON); anything else is nullopt.
std::optional<ConnectContentType> parse_connect_content_type(std::string_view content_type);
std::string connect_content_type(bool streaming, Encoding encoding);

// Unary error body: {"code":"not_found","message":"..."}, message omitted when
// empty. Error::metadata is not part of the body (it travels as headers).
// Code::ok, which is not an error, is written as "unknown".
std::string connect_error_json(const Error& error);

// Client side, for a non-200 unary response. A JSON object with a known
// "code" gives that code and its "message". Any other body (a proxy's HTML,
// no or unknown code) gives code_from_http_status(http_status) and either the
// JSON "message" or "HTTP <status>: <start of body, sanitized>".
Error parse_connect_error(int http_status, std::string_view body);

// The end-of-stream message of Connect streaming (envelope flag 0x02).
struct EndStream {
  std::optional<Error> error;
  http::Fields metadata;  // names lower case, in the order received
};
// {"error":{"code":..,"message":..},"metadata":{"name":["v1","v2"]}}, each
// part omitted when empty ("{}" when both are). Metadata is `trailers` then
// error->metadata, grouped by name in order of first appearance.
std::string connect_end_stream_json(const Error* error, const http::Fields& trailers);
// Client side. Malformed JSON or wrong member types fail with internal (the
// server broke the protocol, as connect-go reports it). An error object with
// a missing or unknown code becomes Code::unknown. Unknown members are
// ignored. The parsed metadata is also copied into error->metadata so a
// client can surface the error as it is.
Result<EndStream> parse_connect_end_stream(std::string_view json);

// Connect-Timeout-Ms: 1 to 10 ASCII digits. nullopt (or an empty value) means
// no deadline; "0" is accepted and means the deadline has already passed.
// Anything else fails with invalid_argument.
Result<std::optional<std::chrono::milliseconds>> parse_connect_timeout(
    std::optional<std::string_view> header);

// Unary GET (side-effect-free methods): the request travels in the query.
struct ConnectGetRequest {
  std::string message;  // raw message bytes, base64 already undone
  Encoding encoding = Encoding::proto;
  // The message's compression; nullopt for none (absent, empty or
  // "identity"). Other names are returned as given for the caller to accept
  // (is_gzip) or reject with unimplemented.
  std::optional<std::string> compression;
};
// `query` is the part after '?'. Parameters are percent-decoded ('+' is a
// space). Required: encoding ("proto" or "json") and message. base64=1 marks
// message as URL-safe base64, padding optional. Lenient where connect-go is:
// a missing "connect" parameter is accepted, but any value other than "v1"
// fails. Unknown parameters are ignored; when one repeats, the first wins.
// Every failure is invalid_argument.
Result<ConnectGetRequest> parse_connect_get_query(std::string_view query);
// Client side: "connect=v1&encoding=..&[base64=1&][compression=..&]message=..".
// Binary payloads (proto, or anything compressed) are unpadded base64url;
// JSON is percent-encoded. When `compression` is given, message_bytes must
// already be compressed with it.
std::string encode_connect_get_query(std::string_view message_bytes, Encoding encoding,
                                     std::optional<std::string_view> compression = std::nullopt);

}  // namespace coral::rpc
