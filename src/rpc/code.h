#pragma once
// RPC status codes: the gRPC codes, named as the Connect protocol names them.

#include <cstdint>
#include <optional>
#include <string_view>

namespace coral::rpc {

enum class Code : std::uint8_t {
  ok = 0,
  canceled = 1,
  unknown = 2,
  invalid_argument = 3,
  deadline_exceeded = 4,
  not_found = 5,
  already_exists = 6,
  permission_denied = 7,
  resource_exhausted = 8,
  failed_precondition = 9,
  aborted = 10,
  out_of_range = 11,
  unimplemented = 12,
  internal = 13,
  unavailable = 14,
  data_loss = 15,
  unauthenticated = 16,
};

// "invalid_argument", as in Connect error bodies.
std::string_view to_string(Code code);
// Inverse of to_string; nullopt for anything else (including "ok").
std::optional<Code> parse_code(std::string_view name);
// gRPC numeric value (grpc-status) <-> Code; nullopt when out of range.
std::optional<Code> code_from_number(std::uint64_t number);

// The HTTP status a Connect unary error response carries.
int connect_http_status(Code code);
// The code a Connect client reports for an HTTP error status whose body is
// not a Connect error (e.g. a proxy's 502), per the Connect specification.
Code code_from_http_status(int status);

}  // namespace coral::rpc
