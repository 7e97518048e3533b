#pragma once
// Driving an io_context from a test thread, always bounded in time: the
// unit tests' way to wait for coroutines and callbacks.

#include <chrono>
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace coral::testing {

// Runs `io` until `done()` holds, for at most `limit`; whether it held.
template <class Predicate>
bool run_until(boost::asio::io_context& io, Predicate done,
               std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Runs `task` on `io` for at most 10 s; its result, or nullopt when it did
// not finish (or threw).
template <class T>
std::optional<T> run(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> result;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr error, T value) {
    if (!error) result.emplace(std::move(value));
  });
  run_until(io, [&] { return result.has_value(); });
  return result;
}

}  // namespace coral::testing
