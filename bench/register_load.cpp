// coral-register-load: MeshService.Register throughput of a running colony
// as its registry fills, for bench/register.sh and by hand.
//
//   CORAL_COLONY_SECRET=... coral-register-load URL COLONY_ID COUNT
//       [--concurrency 64] [--bucket 10000] [--baseline 20000] [--timeout 900]
//
// In one run, over one h2c connection (coral's own Connect client):
//   1. baseline: BASELINE GetStatus calls (the same server, no writes);
//   2. COUNT Register calls with fresh WireGuard keys (kind agent), timed per
//      BUCKET peers, so that the first and the last buckets compare the cost
//      of a registration into an empty and into a nearly full registry;
//   3. COUNT Register calls again with the same keys (re-registrations:
//      look-up, refresh, same addresses).
// It checks that peer i got the mesh index i + 2 (10.42.0.0/16 numbering:
// the colony is .1) and that re-registration returned the same addresses.
// The colony secret comes from the environment, never argv (ps shows argv).
// Prints one line per phase and bucket; exit 1 on any failed call.

#include <charconv>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "coral/colony/v1/colony.coral.h"
#include "coral/mesh/v1/mesh.coral.h"
#include "crypto/keys.h"
#include "http/url.h"
#include "load_runner.h"
#include "rpc/http_channel.h"

namespace asio = boost::asio;
namespace rpc = coral::rpc;
namespace mv1 = coral::mesh::v1;
namespace cv1 = coral::colony::v1;
using coral::bench::LoadResult;

namespace {

constexpr std::string_view kUsage =
    "usage: CORAL_COLONY_SECRET=... coral-register-load URL COLONY_ID COUNT [--concurrency N] [--bucket N]\n"
    "                              [--baseline N] [--timeout S]\n"
    "  URL            the colony's Connect server, e.g. http://127.42.0.1:9000 (h2c)\n"
    "  COLONY_ID      the colony's id\n"
    "  COUNT          peers to register (at most the subnet's capacity)\n"
    "  --concurrency  calls in flight on the one h2c connection, 1-256 [64]\n"
    "  --bucket       report the rate per this many registrations [10000]\n"
    "  --baseline     GetStatus calls measured first, same connection [20000]\n"
    "  --timeout      give up (exit 1) after this many seconds per phase [900]\n";

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

struct Setup {
  coral::http::Url url;
  std::string colony_id;
  std::string secret;
  std::uint64_t count = 0;
  std::uint64_t concurrency = 64;
  std::uint64_t bucket = 10'000;
  std::uint64_t baseline = 20'000;
  std::vector<std::string> pubkeys;
  std::vector<std::string> first_ipv4;  // what each peer got the first time
};

rpc::ChannelOptions channel_options(const coral::http::Url& url) {
  return rpc::ChannelOptions{.url = url,
                             .version = coral::http::Version::http2,
                             .encoding = rpc::Encoding::proto,
                             .gzip_requests = false,
                             .max_message_bytes = 4 << 20,
                             .connect_timeout = std::chrono::seconds(10),
                             .dialer = {}};
}

std::string describe(const rpc::Error& error) {
  return std::string(rpc::to_string(error.code)) + ": " + error.message;
}

asio::awaitable<LoadResult> baseline(const Setup& setup) {
  rpc::HttpChannel channel(co_await asio::this_coro::executor, channel_options(setup.url));
  cv1::ColonyServiceClient client(channel);
  const rpc::CallOptions options{.timeout = std::chrono::seconds(30), .headers = {}};
  co_return co_await coral::bench::run_load(
      setup.baseline, setup.concurrency, [&](std::uint64_t) -> asio::awaitable<std::string> {
        const cv1::GetStatusRequest request;
        auto call = client.GetStatus(request, options);  // g++ 12: name the awaitable
        auto result = co_await std::move(call);
        co_return result ? std::string() : "GetStatus failed: " + describe(result.error());
      });
}

// `again`: the keys were registered before and must get the same addresses.
asio::awaitable<LoadResult> registrations(Setup& setup, bool again) {
  rpc::HttpChannel channel(co_await asio::this_coro::executor, channel_options(setup.url));
  mv1::MeshServiceClient client(channel);
  const rpc::CallOptions options{.timeout = std::chrono::seconds(30), .headers = {}};
  co_return co_await coral::bench::run_load(
      setup.count, setup.concurrency,
      [&](std::uint64_t index) -> asio::awaitable<std::string> {
        mv1::RegisterRequest request;
        request.set_colony_id(setup.colony_id);
        request.set_colony_secret(setup.secret);
        request.set_wireguard_pubkey(setup.pubkeys[index]);
        request.set_component_name("bench-" + std::to_string(index % 100));
        request.set_kind(mv1::PEER_KIND_AGENT);
        auto call = client.Register(request, options);
        auto result = co_await std::move(call);
        if (!result) co_return "Register #" + std::to_string(index) + " failed: " + describe(result.error());
        if (again) {
          if (result->mesh_ipv4() != setup.first_ipv4[index]) {
            co_return "re-registration #" + std::to_string(index) + " moved from " + setup.first_ipv4[index] + " to " +
                result->mesh_ipv4();
          }
        } else {
          setup.first_ipv4[index] = result->mesh_ipv4();
        }
        co_return std::string();
      },
      again ? 0 : setup.bucket);
}

void print_rate(const char* what, const LoadResult& result) {
  std::printf("%-28s %8llu calls in %7.2f s: %8.0f calls/s\n", what,
              static_cast<unsigned long long>(result.completed), result.seconds, result.rate());
}

}  // namespace

int main(int argc, char** argv) {
  Setup setup;
  std::uint64_t timeout_s = 900;
  std::vector<std::string_view> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (arg.starts_with("--")) {
      const std::uint64_t value = i + 1 < argc ? parse_number(argv[i + 1]).value_or(0) : 0;
      std::uint64_t* target = arg == "--concurrency" ? &setup.concurrency
                              : arg == "--bucket"    ? &setup.bucket
                              : arg == "--baseline"  ? &setup.baseline
                              : arg == "--timeout"   ? &timeout_s
                                                     : nullptr;
      if (!target || value == 0 || (target == &setup.concurrency && value > 256)) {
        std::cerr << "coral-register-load: bad option " << arg << "\n" << kUsage;
        return 2;
      }
      *target = value;
      ++i;
      continue;
    }
    positional.push_back(arg);
  }
  const char* secret = std::getenv("CORAL_COLONY_SECRET");
  if (positional.size() != 3 || !secret) {
    std::cerr << (secret ? "" : "coral-register-load: CORAL_COLONY_SECRET is not set\n") << kUsage;
    return 2;
  }
  auto url = coral::http::parse_url(positional[0]);
  const auto count = parse_number(positional[2]);
  if (!url || !count || *count == 0) {
    std::cerr << "coral-register-load: bad URL or COUNT\n" << kUsage;
    return 2;
  }
  setup.url = *url;
  setup.colony_id = positional[1];
  setup.secret = secret;
  setup.count = *count;
  setup.first_ipv4.resize(setup.count);
  for (std::uint64_t i = 0; i < setup.count; ++i) {
    setup.pubkeys.push_back(coral::crypto::SecretKey::generate().public_key().to_base64());
  }

  const std::chrono::seconds timeout(timeout_s);
  const LoadResult base = coral::bench::run_load_blocking([&] { return baseline(setup); }, timeout);
  if (!base.first_error.empty()) {
    std::cerr << "coral-register-load: baseline: " << base.first_error << "\n";
    return 1;
  }
  print_rate("baseline GetStatus", base);

  const LoadResult fresh = coral::bench::run_load_blocking([&] { return registrations(setup, false); }, timeout);
  if (!fresh.first_error.empty()) {
    std::cerr << "coral-register-load: " << fresh.first_error << " (" << fresh.completed << " registered before)\n";
    return 1;
  }
  print_rate("Register (new peers)", fresh);
  for (std::size_t k = 0; k < fresh.bucket_seconds.size(); ++k) {
    std::printf("  peers %6llu-%6llu: %8.0f registrations/s\n", static_cast<unsigned long long>(k * setup.bucket),
                static_cast<unsigned long long>((k + 1) * setup.bucket),
                double(setup.bucket) / fresh.bucket_seconds[k]);
  }
  if (fresh.bucket_seconds.size() >= 2) {
    std::printf("last bucket / first bucket rate: %.2f\n",
                fresh.bucket_seconds.front() / fresh.bucket_seconds.back());
  }

  const LoadResult again = coral::bench::run_load_blocking([&] { return registrations(setup, true); }, timeout);
  if (!again.first_error.empty()) {
    std::cerr << "coral-register-load: " << again.first_error << "\n";
    return 1;
  }
  print_rate("Register (same keys again)", again);
  std::printf("Register / GetStatus rate: %.2f (new), %.2f (again)\n", fresh.rate() / base.rate(),
              again.rate() / base.rate());
  return 0;
}
