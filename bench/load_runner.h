#pragma once
// What the load generators of bench/ share: COUNT calls by CONCURRENCY
// workers on one io_context (so over one multiplexed h2c connection when
// the calls share a channel), stopping at the first failure, with the time
// at which every BUCKET-th call completed (to see whether the cost per call
// grows with what the server holds).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>

namespace coral::bench {

// One call: "" on success, else what failed.
using LoadCall = std::function<boost::asio::awaitable<std::string>(std::uint64_t index)>;

struct LoadResult {
  std::uint64_t completed = 0;
  double seconds = 0;
  std::string first_error;              // empty when every call succeeded
  std::vector<double> bucket_seconds;   // seconds for calls [k*bucket, (k+1)*bucket)
  double rate() const { return seconds > 0 ? double(completed) / seconds : 0; }
};

// Calls `call(i)` for i in [0, count), at most `concurrency` at a time, in
// index order of starting. `bucket` 0: no buckets.
boost::asio::awaitable<LoadResult> run_load(std::uint64_t count, std::uint64_t concurrency, LoadCall call,
                                            std::uint64_t bucket = 0);

// Runs `task` on a fresh io_context for at most `timeout`; a task that does
// not finish in time, or throws, yields a result whose first_error says so.
LoadResult run_load_blocking(std::function<boost::asio::awaitable<LoadResult>()> task, std::chrono::seconds timeout);

}  // namespace coral::bench
