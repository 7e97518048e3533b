#pragma once
// gRPC (PROTOCOL-HTTP2.md) and gRPC-Web (PROTOCOL-WEB.md) wire pieces:
// content types, grpc-timeout, grpc-status/grpc-message trailers, and the
// trailer block gRPC-Web carries inside the body.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"
#include "rpc/context.h"
#include "rpc/error.h"

namespace coral::rpc {

// Header/trailer names (lower case).
inline constexpr std::string_view kGrpcStatus = "grpc-status";
inline constexpr std::string_view kGrpcMessage = "grpc-message";
inline constexpr std::string_view kGrpcStatusDetailsBin = "grpc-status-details-bin";
inline constexpr std::string_view kGrpcTimeout = "grpc-timeout";
inline constexpr std::string_view kGrpcEncoding = "grpc-encoding";
inline constexpr std::string_view kGrpcAcceptEncoding = "grpc-accept-encoding";
inline constexpr std::string_view kTe = "te";  // gRPC clients send "te: trailers"

struct GrpcContentType {
  bool web = false;
  Encoding encoding = Encoding::proto;
};
// application/grpc[+proto|+json] and application/grpc-web[+proto|+json],
// case-insensitive; parameters (";charset=...") are ignored. Other subtypes
// (e.g. +thrift, grpc-web-text) are nullopt.
std::optional<GrpcContentType> parse_grpc_content_type(std::string_view content_type);
// What a server answers: "application/grpc" for gRPC+proto (as connect-go
// does, for proxies that only know the bare form), otherwise the explicit
// "+proto"/"+json" form.
std::string grpc_content_type(bool web, Encoding encoding);

// grpc-timeout: 1 to 8 digits and a unit (H M S m u n). Sub-millisecond
// values round up (1n is 1 ms; 0n is 0 ms, i.e. already expired). nullopt or
// an empty value means no deadline; anything else fails with invalid_argument.
Result<std::optional<std::chrono::milliseconds>> parse_grpc_timeout(std::optional<std::string_view> header);
// At most 8 digits: milliseconds when they fit, else the smallest coarser unit
// that does, rounding up (never shortening the caller's deadline). Negative
// durations become "0m"; durations too long for "99999999H" are clamped.
std::string format_grpc_timeout(std::chrono::milliseconds timeout);

// grpc-message percent-encoding: bytes outside 0x20..0x7E, and '%', become
// %XX. Decoding is lenient as the spec requires ("MUST NOT error"): a '%' not
// followed by two hex digits is kept as it is.
std::string grpc_percent_encode(std::string_view text);
std::string grpc_percent_decode(std::string_view text);

// Server side: grpc-status (decimal), grpc-message (percent-encoded; only
// with an error), then extra_trailers. Fields in extra_trailers named
// grpc-status, grpc-message or grpc-status-details-bin are dropped so they
// cannot contradict the status. error->metadata is NOT included: callers
// append it (unlike connect_end_stream_json, which has no other place for it).
http::Fields grpc_status_trailers(const Error* error, const http::Fields& extra_trailers);

// Client side, over the trailers (or the headers of a trailers-only
// response). Missing grpc-status: internal ("missing grpc-status"). "0": ok.
// A non-numeric or unknown code becomes unknown (gRPC's rule for codes it
// does not know). Errors carry the decoded grpc-message and, as metadata,
// every field except the protocol's own (grpc-*, content-type, te, ...).
Status grpc_status_from_trailers(const http::Fields& trailers_or_headers);

// gRPC-Web trailers travel in the body inside a kFlagGrpcWebTrailers envelope
// as an HTTP/1-style block: "name: value\r\n" per field. Names are written in
// lower case; CR, LF and NUL in values are replaced by spaces so a value
// cannot forge another field.
std::string encode_grpc_web_trailers(const http::Fields& trailers);
// Client side. Lines end in CRLF (a bare LF and a missing final line end are
// tolerated); blank lines are skipped; names are lower-cased; values are
// trimmed. A line without a colon, an empty or non-token name, or a control
// character in a value fails with internal, as connect-go reports a broken
// gRPC-Web response.
Result<http::Fields> parse_grpc_web_trailers(std::string_view block);

}  // namespace coral::rpc
