#include "load_runner.h"

#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::bench {

namespace asio = boost::asio;

namespace {

struct Shared {
  std::uint64_t count;
  std::uint64_t bucket;
  LoadCall call;
  std::uint64_t next = 0;
  LoadResult result;
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point bucket_start;
};

asio::awaitable<void> worker(Shared& shared) {
  while (shared.result.first_error.empty() && shared.next < shared.count) {
    const std::uint64_t index = shared.next++;
    std::string error = co_await shared.call(index);
    if (!error.empty()) {
      if (shared.result.first_error.empty()) shared.result.first_error = std::move(error);
      break;
    }
    ++shared.result.completed;
    if (shared.bucket > 0 && shared.result.completed % shared.bucket == 0) {
      const auto now = std::chrono::steady_clock::now();
      shared.result.bucket_seconds.push_back(std::chrono::duration<double>(now - shared.bucket_start).count());
      shared.bucket_start = now;
    }
  }
}

}  // namespace

asio::awaitable<LoadResult> run_load(std::uint64_t count, std::uint64_t concurrency, LoadCall call,
                                     std::uint64_t bucket) {
  auto executor = co_await asio::this_coro::executor;
  auto shared = std::make_shared<Shared>(Shared{count, bucket, std::move(call), 0, {}, {}, {}});
  if (concurrency == 0) concurrency = 1;
  if (concurrency > count) concurrency = count == 0 ? 1 : count;
  asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
  std::uint64_t workers_left = concurrency;
  shared->start = shared->bucket_start = std::chrono::steady_clock::now();
  for (std::uint64_t i = 0; i < concurrency; ++i) {
    asio::co_spawn(executor, worker(*shared), [&, shared](std::exception_ptr error) {
      if (error && shared->result.first_error.empty()) {
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          shared->result.first_error = std::string("worker threw: ") + e.what();
        }
      }
      if (--workers_left == 0) all_done.cancel();
    });
  }
  boost::system::error_code ec;
  co_await all_done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  shared->result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - shared->start).count();
  co_return shared->result;
}

LoadResult run_load_blocking(std::function<asio::awaitable<LoadResult>()> task, std::chrono::seconds timeout) {
  asio::io_context io(1);
  LoadResult result;
  bool done = false;
  asio::co_spawn(io, task(), [&](std::exception_ptr error, LoadResult value) {
    done = true;
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        result.first_error = std::string("load threw: ") + e.what();
      }
    } else {
      result = std::move(value);
    }
    io.stop();  // channels are gone; do not wait for whatever they left behind
  });
  io.run_for(timeout);
  if (!done) result.first_error = "timed out after " + std::to_string(timeout.count()) + " s";
  return result;
}

}  // namespace coral::bench
