// coral-discovery-load: registers COUNT colonies with a coral-discovery
// server as fast as it can, for bench/discovery_lookup.sh (which then
// measures LookupColony on the loaded server) and by hand.
//
//   coral-discovery-load URL COUNT [--concurrency 128] [--prefix bench-colony-]
//                        [--timeout 600]
//
// Colony i (0 <= i < COUNT) is registered as mesh_id PREFIX + i zero-padded
// to 7 digits ("bench-colony-0042421"), with a deterministic, distinct
// 32-byte WireGuard key (canonical base64), two public endpoints (TEST-NET
// addresses, never dialled), mesh_ipv4 127.42.x.y, mesh_ipv6 under
// fdc0:ffee::/64, connect_port 9000 and metadata {app, environment}. These
// are strings the server stores; the only traffic is to URL.
//
// All calls go over ONE h2c connection (coral's own client: rpc::HttpChannel
// with Connect proto, DiscoveryServiceClient): a first Health call opens it,
// then --concurrency workers each take the next index from a shared counter
// and register it, so at most --concurrency calls are in flight (keep it at
// or under the server's SETTINGS_MAX_CONCURRENT_STREAMS, 256, or the client
// opens a second connection). No retries: any failed call (or a response
// without success) stops the run; the first error is printed and the exit
// status is 1. Exit 2: bad usage. On success it prints one line:
//   registered 100000 colonies in 3.21 s: 31152 registrations/s (...)

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "coral/discovery/v1/discovery.coral.h"
#include "http/url.h"
#include "load_runner.h"
#include "rpc/http_channel.h"

namespace asio = boost::asio;
namespace v1 = coral::discovery::v1;
namespace rpc = coral::rpc;

namespace {

constexpr std::string_view kUsage =
    "usage: coral-discovery-load URL COUNT [--concurrency N] [--prefix P] [--timeout S]\n"
    "  URL            the discovery server, e.g. http://127.0.0.1:8080 (h2c)\n"
    "  COUNT          colonies to register: PREFIX0000000 .. PREFIX<COUNT-1>\n"
    "  --concurrency  calls in flight on the one h2c connection, 1-256 [128]\n"
    "  --prefix       mesh_id prefix [bench-colony-]\n"
    "  --timeout      give up (exit 1) after this many seconds in total [600]\n";

// splitmix64: a deterministic, well-mixed 64-bit sequence per colony.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Standard base64 with padding: 32 bytes -> 44 characters, the last one '='
// and the stray bits zero, i.e. the canonical form the server requires.
std::string base64(const unsigned char* data, std::size_t size) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  for (std::size_t i = 0; i < size; i += 3) {
    const std::uint32_t b0 = data[i];
    const std::uint32_t b1 = i + 1 < size ? data[i + 1] : 0;
    const std::uint32_t b2 = i + 2 < size ? data[i + 2] : 0;
    const std::uint32_t n = (b0 << 16) | (b1 << 8) | b2;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += i + 1 < size ? kAlphabet[(n >> 6) & 63] : '=';
    out += i + 2 < size ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::string pubkey_for(std::uint64_t index) {
  unsigned char key[32];
  for (int word = 0; word < 4; ++word) {
    const std::uint64_t bits = mix(index * 4 + std::uint64_t(word) + 0x636f72616cULL);  // "coral"
    for (int byte = 0; byte < 8; ++byte) key[word * 8 + byte] = static_cast<unsigned char>(bits >> (8 * byte));
  }
  return base64(key, sizeof key);
}

std::string mesh_id_for(const std::string& prefix, std::uint64_t index) {
  std::string digits = std::to_string(index);
  if (digits.size() < 7) digits.insert(0, 7 - digits.size(), '0');
  return prefix + digits;
}

// PREFIX ("2001:db8::") followed by `host` in at most two 16-bit groups
// (COUNT is at most 10^7 < 2^32): "2001:db8::1", "2001:db8::1:86a0".
std::string ipv6_host(const char* prefix, std::uint64_t host) {
  char buffer[64];
  if (host >> 16) {
    std::snprintf(buffer, sizeof buffer, "%s%x:%x", prefix, unsigned((host >> 16) & 0xffff), unsigned(host & 0xffff));
  } else {
    std::snprintf(buffer, sizeof buffer, "%s%x", prefix, unsigned(host));
  }
  return buffer;
}

v1::RegisterColonyRequest request_for(const std::string& prefix, std::uint64_t index) {
  char buffer[64];
  v1::RegisterColonyRequest request;
  request.set_mesh_id(mesh_id_for(prefix, index));
  request.set_wireguard_pubkey(pubkey_for(index));
  // Documentation-only addresses (RFC 5737 / RFC 3849): stored, never dialled.
  std::snprintf(buffer, sizeof buffer, "203.0.113.%u:41820", unsigned(index % 254 + 1));
  request.add_public_endpoints(buffer);
  request.add_public_endpoints("[" + ipv6_host("2001:db8::", index + 1) + "]:41820");
  std::snprintf(buffer, sizeof buffer, "127.42.%u.%u", unsigned((index >> 8) & 255), unsigned(index & 255));
  request.set_mesh_ipv4(buffer);
  request.set_mesh_ipv6(ipv6_host("fdc0:ffee::", index + 1));
  request.set_connect_port(9000);
  auto& metadata = *request.mutable_metadata();
  metadata["app"] = "bench-app-" + std::to_string(index % 100);
  metadata["environment"] = index % 2 ? "staging" : "production";
  return request;
}

std::optional<std::uint64_t> parse_number(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

rpc::CallOptions call_options() {
  rpc::CallOptions options;
  options.timeout = std::chrono::milliseconds(30'000);
  return options;
}

asio::awaitable<coral::bench::LoadResult> load(const coral::http::Url& url, const std::string& prefix,
                                               std::uint64_t count, std::uint64_t concurrency) {
  auto executor = co_await asio::this_coro::executor;
  rpc::HttpChannel channel(executor, rpc::ChannelOptions{.url = url,
                                                         .version = coral::http::Version::http2,
                                                         .encoding = rpc::Encoding::proto,
                                                         .gzip_requests = false,
                                                         .max_message_bytes = 4 << 20,
                                                         .connect_timeout = std::chrono::seconds(10),
                                                         .dialer = {}});
  v1::DiscoveryServiceClient client(channel);
  const rpc::CallOptions options = call_options();

  // Open the one connection before the workers start, so that they all share it.
  const v1::HealthRequest health_request;
  auto health_call = client.Health(health_request, options);
  rpc::Result<v1::HealthResponse> health = co_await std::move(health_call);
  if (!health) {
    coral::bench::LoadResult failed;
    failed.first_error = "Health failed: " + std::string(rpc::to_string(health.error().code)) + ": " + health.error().message;
    co_return failed;
  }
  co_return co_await coral::bench::run_load(
      count, concurrency, [&](std::uint64_t index) -> asio::awaitable<std::string> {
        const v1::RegisterColonyRequest request = request_for(prefix, index);
        auto call = client.RegisterColony(request, options);  // g++ 12: name the awaitable
        rpc::Result<v1::RegisterColonyResponse> result = co_await std::move(call);
        if (!result) {
          co_return "RegisterColony " + request.mesh_id() + " failed: " + std::string(rpc::to_string(result.error().code)) +
              ": " + result.error().message;
        }
        if (!result->success()) co_return "RegisterColony " + request.mesh_id() + " answered success=false";
        co_return std::string();
      });
}

}  // namespace

int main(int argc, char** argv) {
  std::string url_text;
  std::optional<std::uint64_t> count;
  std::uint64_t concurrency = 128;
  std::uint64_t timeout_s = 600;
  std::string prefix = "bench-colony-";
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      std::cout << kUsage;
      return 0;
    }
    if (arg == "--concurrency" || arg == "--prefix" || arg == "--timeout") {
      if (i + 1 >= argc) {
        std::cerr << "coral-discovery-load: " << arg << " needs a value\n" << kUsage;
        return 2;
      }
      const std::string_view value = argv[++i];
      if (arg == "--prefix") {
        prefix = value;
        continue;
      }
      const auto number = parse_number(value);
      if (!number || *number < 1 || (arg == "--concurrency" && *number > 256)) {
        std::cerr << "coral-discovery-load: invalid " << arg << " \"" << value << "\"\n" << kUsage;
        return 2;
      }
      (arg == "--concurrency" ? concurrency : timeout_s) = *number;
      continue;
    }
    if (arg.starts_with("--")) {
      std::cerr << "coral-discovery-load: unknown option " << arg << "\n" << kUsage;
      return 2;
    }
    if (positional == 0) {
      url_text = arg;
    } else if (positional == 1) {
      count = parse_number(arg);
      if (!count || *count > 10'000'000) {
        std::cerr << "coral-discovery-load: COUNT must be 0-10000000, got \"" << arg << "\"\n";
        return 2;
      }
    } else {
      std::cerr << "coral-discovery-load: unexpected argument " << arg << "\n" << kUsage;
      return 2;
    }
    ++positional;
  }
  if (positional != 2) {
    std::cerr << kUsage;
    return 2;
  }
  const auto url = coral::http::parse_url(url_text);
  if (!url) {
    std::cerr << "coral-discovery-load: " << url.error() << "\n";
    return 2;
  }
  if (prefix.size() + 7 > 63) {
    std::cerr << "coral-discovery-load: --prefix is too long (mesh_id must be at most 63 bytes)\n";
    return 2;
  }
  const auto run = coral::bench::run_load_blocking([&] { return load(*url, prefix, *count, concurrency); },
                                                   std::chrono::seconds(timeout_s));
  if (!run.first_error.empty()) {
    std::cerr << "coral-discovery-load: " << run.first_error << "\n";
    std::cerr << "coral-discovery-load: " << run.completed << " of " << *count << " colonies registered before that\n";
    return 1;
  }
  char line[256];
  std::snprintf(line, sizeof line,
                "registered %llu colonies in %.2f s: %.0f registrations/s (concurrency %llu, one h2c connection, %s)\n",
                static_cast<unsigned long long>(*count), run.seconds, run.rate(),
                static_cast<unsigned long long>(std::min(concurrency, std::max<std::uint64_t>(*count, 1))),
                url_text.c_str());
  std::cout << line;
  return 0;
}
