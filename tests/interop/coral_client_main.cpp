// coral-interop-client BASE_URL: calls EchoService at BASE_URL with coral's
// Connect client over HTTP/1.1 and h2c, binary and JSON, with and without
// gzip, and checks every answer. Used against the connect-node server
// (tests/interop/node/server.mjs) and against coral's own. Prints one line
// per check and "N passed, M failed".

#include <functional>
#include <iostream>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "coral/testing/v1/echo.coral.h"
#include "rpc/http_channel.h"

namespace asio = boost::asio;
using namespace coral;
using coral::testing::v1::EchoServiceClient;

namespace {

int passed = 0;
int failed = 0;

void check(const std::string& name, bool ok, const std::string& detail) {
  (ok ? passed : failed)++;
  std::cout << (ok ? "ok   " : "FAIL ") << name << (ok ? "" : ": " + detail) << std::endl;
}

std::string describe(const rpc::Status& status) {
  return status ? "ok" : std::string(rpc::to_string(status.error().code)) + " \"" + status.error().message + "\"";
}

asio::awaitable<void> run_variant(const std::string& name, rpc::HttpChannel& channel, http::Version version,
                                  rpc::Encoding encoding) {
  EchoServiceClient client(channel);
  const std::string want_version(http::to_string(version));

  coral::testing::v1::EchoRequest echo;
  echo.set_text("héllo reef");
  echo.set_number(-1234567890123);
  echo.set_payload(std::string("\0\1\2\xff", 4));
  echo.add_tags("a");
  echo.add_tags("b");
  rpc::CallOptions options;
  options.headers.push_back({"x-test-echo", "echoed"});
  options.timeout = std::chrono::seconds(10);
  auto reply = co_await client.Echo(echo, options);
  check(name + " Echo",
        reply && reply->text() == echo.text() && reply->number() == echo.number() &&
            reply->payload() == echo.payload() && reply->tags_size() == 2 && reply->protocol() == "connect" &&
            reply->encoding() == rpc::to_string(encoding) && reply->http_version() == want_version &&
            reply->header_echo() == "echoed",
        reply ? reply->ShortDebugString() : describe(std::unexpected(reply.error())));

  coral::testing::v1::CountRequest count;
  count.set_count(3);
  count.set_payload_bytes(2000);  // compressible: exercises gzip when on
  std::vector<std::uint32_t> indexes;
  auto streamed = co_await client.Count(count, [&](const auto& message) { indexes.push_back(message.index()); });
  check(name + " Count 3", streamed && indexes == std::vector<std::uint32_t>{0, 1, 2},
        describe(streamed) + ", " + std::to_string(indexes.size()) + " messages");

  coral::testing::v1::FailRequest fail;
  fail.set_code("not_found");
  fail.set_message("no such reef");
  auto failure = co_await client.Fail(fail);
  check(name + " Fail not_found",
        !failure && failure.error().code == rpc::Code::not_found && failure.error().message == "no such reef",
        failure ? "succeeded" : describe(std::unexpected(failure.error())));

  count.set_count(2);
  count.set_fail_code("aborted");
  indexes.clear();
  auto aborted = co_await client.Count(count, [&](const auto& message) { indexes.push_back(message.index()); });
  check(name + " Count 2 then aborted",
        !aborted && aborted.error().code == rpc::Code::aborted && indexes.size() == 2, describe(aborted));

  coral::testing::v1::SleepRequest sleep;
  sleep.set_millis(3000);
  rpc::CallOptions short_timeout;
  short_timeout.timeout = std::chrono::milliseconds(200);
  auto slept = co_await client.Sleep(sleep, short_timeout);
  check(name + " Sleep past deadline", !slept && slept.error().code == rpc::Code::deadline_exceeded,
        slept ? "succeeded" : describe(std::unexpected(slept.error())));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: coral-interop-client BASE_URL\n";
    return 2;
  }
  auto url = http::parse_url(argv[1]);
  if (!url) {
    std::cerr << url.error() << "\n";
    return 2;
  }
  asio::io_context io(1);
  struct Variant {
    std::string name;
    http::Version version;
    rpc::Encoding encoding;
    bool gzip;
  };
  const std::vector<Variant> variants = {
      {"connect h2 proto", http::Version::http2, rpc::Encoding::proto, false},
      {"connect h2 json", http::Version::http2, rpc::Encoding::json, false},
      {"connect h1 proto", http::Version::http1_1, rpc::Encoding::proto, false},
      {"connect h1 json", http::Version::http1_1, rpc::Encoding::json, false},
      {"connect h2 proto gzip", http::Version::http2, rpc::Encoding::proto, true},
      {"connect h1 json gzip", http::Version::http1_1, rpc::Encoding::json, true},
  };
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (const auto& variant : variants) {
          rpc::HttpChannel channel(io.get_executor(),
                                   rpc::ChannelOptions{.url = *url, .version = variant.version, .encoding = variant.encoding, .gzip_requests = variant.gzip, .max_message_bytes = 4 << 20, .connect_timeout = std::chrono::seconds(5), .dialer = {}});
          co_await run_variant(variant.name, channel, variant.version, variant.encoding);
        }
      },
      [](std::exception_ptr error) {
        if (error) std::rethrow_exception(error);
      });
  io.run_for(std::chrono::seconds(120));
  std::cout << passed << " passed, " << failed << " failed" << std::endl;
  return failed == 0 && passed == int(variants.size()) * 5 ? 0 : 1;
}
