#pragma once
// A discovery service for member tests: the memory store behind
// DiscoveryService, served over h2c on 127.0.0.1 (a free port) on the test's
// io_context, and records put straight into its store.

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

#include "base/clock.h"
#include "bounded_io.h"
#include "discovery/memory_store.h"
#include "discovery/service.h"
#include "http/server.h"
#include "rpc/server.h"

namespace coral::member::testing {

class InProcessDiscovery {
 public:
  explicit InProcessDiscovery(boost::asio::io_context& io)
      : io_(io),
        store_(discovery::make_memory_store(clock_)),
        service_(*store_, clock_, discovery::ServiceOptions{}),
        rpc_(io.get_executor()),
        http_(io, rpc_) {
    rpc_.add(service_);
    auto listening = http_.listen("127.0.0.1", 0);
    EXPECT_TRUE(listening) << listening.error().message();
    http_.start();
    url_ = "http://127.0.0.1:" + std::to_string(http_.port());
  }

  const std::string& url() const { return url_; }
  const base::Clock& clock() const { return clock_; }

  // Stores `record` as proven, seen now, for an hour.
  void put(discovery::ColonyRecord record) {
    record.last_seen = clock_.now();
    record.expires_at = clock_.now() + std::chrono::hours(1);
    record.proven = true;
    auto stored = coral::testing::run(io_, store_->put(record));
    EXPECT_TRUE(stored && *stored && (*stored)->stored);
  }

 private:
  boost::asio::io_context& io_;
  base::SystemClock clock_;
  std::unique_ptr<discovery::Store> store_;
  discovery::DiscoveryService service_;
  rpc::Server rpc_;
  http::Server http_;
  std::string url_;
};

}  // namespace coral::member::testing
