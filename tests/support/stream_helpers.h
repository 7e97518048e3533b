#pragma once
// Test helpers over net::ByteStream and net::Listener (any implementation:
// host TCP, the userspace stack, a mesh transport): known bytes, reading a
// given amount or to the end, and an echo server.
//
// Coroutines take what they use as parameters: a lambda coroutine's
// captures die with the lambda object, and g++ 12 mishandles temporaries
// inside co_await expressions (bind them to named locals).

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "net/stream.h"

namespace coral::testing {

using Bytes = std::vector<std::uint8_t>;

// `size` bytes that differ with `seed` and along the buffer (a shifted or
// repeated chunk does not compare equal).
inline Bytes pattern(std::size_t size, std::uint8_t seed) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) out[i] = static_cast<std::uint8_t>(seed + i * 7 + (i >> 11));
  return out;
}

// Reads until `size` bytes came or the stream ended; what came.
inline net::Awaitable<Bytes> read_exactly(net::ByteStream& stream, std::size_t size) {
  Bytes out;
  std::array<std::byte, 65536> buffer{};
  while (out.size() < size) {
    auto n = co_await stream.read_some(std::span(buffer).first(std::min(buffer.size(), size - out.size())));
    if (!n) break;
    const auto* data = reinterpret_cast<const std::uint8_t*>(buffer.data());
    out.insert(out.end(), data, data + *n);
  }
  co_return out;
}

// Reads until the stream ends; the bytes and how it ended.
inline net::Awaitable<std::pair<Bytes, std::error_code>> read_to_end(net::ByteStream& stream) {
  Bytes out;
  std::array<std::byte, 65536> buffer{};
  while (true) {
    auto n = co_await stream.read_some(buffer);
    if (!n) co_return std::pair{std::move(out), n.error()};
    const auto* data = reinterpret_cast<const std::uint8_t*>(buffer.data());
    out.insert(out.end(), data, data + *n);
  }
}

inline net::Awaitable<std::error_code> write_all(net::ByteStream& stream, const Bytes& data) {
  co_return co_await stream.write(std::as_bytes(std::span(data)));
}

// Writes back whatever comes, until the stream ends.
inline net::Awaitable<void> echo(std::shared_ptr<net::ByteStream> stream) {
  std::array<std::byte, 65536> buffer{};
  while (true) {
    auto n = co_await stream->read_some(buffer);
    if (!n) co_return;
    if (co_await stream->write(std::span(buffer).first(*n))) co_return;
  }
}

// Echoes on every stream `listener` accepts, until it is closed.
inline net::Awaitable<void> serve_echo(net::Listener& listener) {
  while (true) {
    auto stream = co_await listener.accept();
    if (!stream) co_return;
    std::shared_ptr<net::ByteStream> owned = std::move(*stream);
    boost::asio::co_spawn(co_await boost::asio::this_coro::executor, echo(std::move(owned)), boost::asio::detached);
  }
}

}  // namespace coral::testing
