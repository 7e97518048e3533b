#pragma once
// The HTTP/2 client codec's tuning (codec.h's make_h2_client_codec uses the
// defaults): how fast it may cancel requests with RST_STREAM.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "http/codec.h"

namespace coral::http {

struct H2ClientOptions {
  // RST_STREAMs the codec sends to cancel requests are a token bucket of
  // `reset_burst` refilled at `resets_per_second`, half of what nghttp2
  // servers (coral's colony among them) tolerate before they answer with
  // GOAWAY as against a rapid-reset attack (1000 in a burst, then 33/s).
  std::uint32_t reset_burst = 500;
  std::uint32_t resets_per_second = 16;
  // Cancelled requests waiting for a token (the server still runs them);
  // above this many, cancels are sent regardless (a bound on memory).
  std::size_t max_deferred_resets = 1024;
  // The clock of the bucket; empty: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

std::unique_ptr<ClientCodec> make_h2_client_codec(Wake wake, H2ClientOptions options);

}  // namespace coral::http
