// The Connect and gRPC text parsers over arbitrary bytes: error bodies,
// end-of-stream JSON, GET queries, timeouts, grpc-message, content types,
// gzip. Oracles: what the writers produce must parse back.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "rpc/compression.h"
#include "rpc/protocol_connect.h"
#include "rpc/protocol_grpc.h"

using namespace coral::rpc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const int http_status = 400 + static_cast<int>(size % 120);

  const Error error = parse_connect_error(http_status, input);
  if (error.code == Code::ok) __builtin_trap();

  if (auto end = parse_connect_end_stream(input)) {
    // The parser copies the metadata into the error too; don't send it twice.
    if (end->error) end->error->metadata.clear();
    const std::string json = connect_end_stream_json(end->error ? &*end->error : nullptr, end->metadata);
    auto again = parse_connect_end_stream(json);
    if (!again || again->metadata.size() != end->metadata.size()) __builtin_trap();
    if (again->error.has_value() != end->error.has_value()) __builtin_trap();
    if (end->error && again->error->code != end->error->code) __builtin_trap();
  }

  // Anything, as an error message, must survive the JSON writer and parser.
  const Error wrapped{Code::failed_precondition, std::string(input), {}};
  if (parse_connect_error(200, connect_error_json(wrapped)).code != Code::failed_precondition) __builtin_trap();

  if (auto request = parse_connect_get_query(input)) {
    auto again = parse_connect_get_query(encode_connect_get_query(request->message, request->encoding));
    if (!again || again->message != request->message || again->encoding != request->encoding) __builtin_trap();
  }

  (void)parse_connect_timeout(input);
  if (auto timeout = parse_grpc_timeout(input); timeout && *timeout) {
    auto again = parse_grpc_timeout(format_grpc_timeout(**timeout));
    if (!again || !*again || **again < **timeout) __builtin_trap();
  }

  if (grpc_percent_decode(grpc_percent_encode(input)) != input) __builtin_trap();
  (void)grpc_percent_decode(input);

  (void)parse_connect_content_type(input);
  (void)parse_grpc_content_type(input);

  constexpr std::size_t kCap = 64 * 1024;
  if (auto inflated = gzip_decompress(input, kCap); inflated && inflated->size() > kCap) __builtin_trap();
  return 0;
}
