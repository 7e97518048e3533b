#pragma once
// Leases in Redis, so that several discovery replicas behind one address
// share them and a replica's restart loses nothing. Each lease is a Redis key
// with an expiry; put() is one Lua script, so the takeover rule holds across
// replicas. A Redis outage makes calls fail with `unavailable` (logged once
// per outage) and the store reconnects when Redis returns.

#include <expected>
#include <memory>
#include <string>

#include <boost/asio/any_io_executor.hpp>

#include "discovery/store.h"

namespace coral::discovery {

struct RedisAddress {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  int db = 0;
};

// "redis://HOST:PORT/DB" (port and db optional). Errors name what is wrong.
std::expected<RedisAddress, std::string> parse_redis_url(std::string_view url);

// Redis calls run on a small pool of worker threads (hiredis is blocking);
// results come back on `executor`.
// `limits` are enforced inside the put script, so they hold across replicas.
std::unique_ptr<Store> make_redis_store(boost::asio::any_io_executor executor, RedisAddress address,
                                        const base::Clock& clock, StoreLimits limits = {});

}  // namespace coral::discovery
