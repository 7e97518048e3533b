#pragma once
// Length-prefixed messages, the framing shared by Connect streaming, gRPC and
// gRPC-Web: one flag byte, a 4-byte big-endian payload length, the payload.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "rpc/error.h"

namespace coral::rpc {

inline constexpr std::uint8_t kFlagCompressed = 0x01;       // all three protocols
inline constexpr std::uint8_t kFlagEndStream = 0x02;        // Connect streaming
inline constexpr std::uint8_t kFlagGrpcWebTrailers = 0x80;  // gRPC-Web
inline constexpr std::size_t kEnvelopeHeaderBytes = 5;
// Largest payload the 32-bit length field can describe.
inline constexpr std::size_t kMaxEnvelopePayload = 0xFFFF'FFFFu;

struct Envelope {
  std::uint8_t flags = 0;
  std::string payload;
};

// Appends header + payload to `out`. Precondition: payload.size() <=
// kMaxEnvelopePayload (callers enforce their much smaller send limits first).
void append_envelope(std::string& out, std::uint8_t flags, std::string_view payload);

// Incremental parser: feed() body chunks as they arrive, then drain with
// next(). Flags are not interpreted here; each protocol checks them.
class EnvelopeReader {
 public:
  // `max_message_bytes` caps the length a header may announce (the payload
  // as sent, i.e. before decompression).
  explicit EnvelopeReader(std::size_t max_message_bytes);

  // Buffers `input`. Fails with resource_exhausted as soon as a header
  // announces a payload over the limit, without waiting for (or keeping)
  // that payload; the message names both sizes. The failure is sticky: the
  // buffer is dropped and every later feed() returns the same error.
  Status feed(std::span<const std::byte> input);
  Status feed(std::string_view input);

  // The next complete envelope, in order; nullopt when none is buffered.
  std::optional<Envelope> next();

  // True when buffered bytes do not form a whole envelope. At the end of the
  // body this means the input was truncated.
  bool has_partial() const;

  std::size_t max_message_bytes() const { return max_message_bytes_; }

 private:
  Status check_headers();
  void compact();

  std::size_t max_message_bytes_;
  std::string buffer_;
  std::size_t read_ = 0;     // start of the first envelope next() has not returned
  std::size_t scanned_ = 0;  // start of the first envelope not known to be complete
  std::optional<Error> error_;
};

}  // namespace coral::rpc
