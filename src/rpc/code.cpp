#include "rpc/code.h"

#include <array>

namespace coral::rpc {
namespace {

// Indexed by the numeric value of Code (the gRPC status number).
constexpr std::array<std::string_view, 17> kNames = {
    "ok",
    "canceled",
    "unknown",
    "invalid_argument",
    "deadline_exceeded",
    "not_found",
    "already_exists",
    "permission_denied",
    "resource_exhausted",
    "failed_precondition",
    "aborted",
    "out_of_range",
    "unimplemented",
    "internal",
    "unavailable",
    "data_loss",
    "unauthenticated",
};

}  // namespace

std::string_view to_string(Code code) {
  const auto index = static_cast<std::size_t>(code);
  // A value outside the enum can only come from a bad cast; name it like the
  // catch-all code rather than reading out of bounds.
  return index < kNames.size() ? kNames[index] : std::string_view("unknown");
}

std::optional<Code> parse_code(std::string_view name) {
  // Starts at 1: "ok" is not an error code and never appears on the wire.
  for (std::size_t i = 1; i < kNames.size(); ++i) {
    if (kNames[i] == name) return static_cast<Code>(i);
  }
  return std::nullopt;
}

std::optional<Code> code_from_number(std::uint64_t number) {
  if (number > static_cast<std::uint64_t>(Code::unauthenticated)) return std::nullopt;
  return static_cast<Code>(number);
}

int connect_http_status(Code code) {
  // The table in https://connectrpc.com/docs/protocol#error-codes.
  switch (code) {
    case Code::ok: return 200;
    case Code::canceled: return 499;
    case Code::unknown: return 500;
    case Code::invalid_argument: return 400;
    case Code::deadline_exceeded: return 504;
    case Code::not_found: return 404;
    case Code::already_exists: return 409;
    case Code::permission_denied: return 403;
    case Code::resource_exhausted: return 429;
    case Code::failed_precondition: return 400;
    case Code::aborted: return 409;
    case Code::out_of_range: return 400;
    case Code::unimplemented: return 501;
    case Code::internal: return 500;
    case Code::unavailable: return 503;
    case Code::data_loss: return 500;
    case Code::unauthenticated: return 401;
  }
  return 500;
}

Code code_from_http_status(int status) {
  // The Connect spec's HTTP-to-code table, which follows gRPC's
  // http-grpc-status-mapping.md. It is deliberately not the inverse of
  // connect_http_status: a bare 400 from a proxy means the client and server
  // disagree about the protocol, hence internal.
  switch (status) {
    case 400: return Code::internal;
    case 401: return Code::unauthenticated;
    case 403: return Code::permission_denied;
    case 404: return Code::unimplemented;
    case 429: return Code::unavailable;
    case 502:
    case 503:
    case 504: return Code::unavailable;
    default: return Code::unknown;
  }
}

}  // namespace coral::rpc
