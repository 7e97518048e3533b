// The proxy's data path end to end, in-process on loopback: real echo
// servers (rpc::Server behind http::Server) as colonies, the Forwarder
// behind another http::Server as the proxy, and clients calling through it
// (rpc::HttpChannel for Connect; raw HTTP exchanges for headers, trailers,
// gRPC and gRPC-Web). Everything runs on one io_context in this thread, so
// the test reads the forwarder's stats between calls without locks; every
// wait is bounded.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include "../rpc/test_harness.h"
#include "echo_service.h"
#include "http/client.h"
#include "http/connection.h"
#include "http/h2_client_codec.h"
#include "http/server.h"
#include "net/tcp.h"
#include "proxy/forwarder.h"
#include "rpc/http_channel.h"
#include "rpc/server.h"

namespace coral::proxy {
namespace {

namespace asio = boost::asio;
namespace v1 = coral::testing::v1;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using rpc::harness::Collector;
using rpc::harness::Decoded;
using rpc::harness::RawResponse;
using rpc::harness::Shape;

// The echo service, signing what it does with the colony's name: Echo adds
// it to the reply's tags, a response header and a trailer; Fail adds it to
// the error's metadata; Count to the stream's trailers.
class ColonyEcho final : public v1::EchoServiceHandler {
 public:
  explicit ColonyEcho(std::string name) : name_(std::move(name)) {}

  rpc::Awaitable<rpc::Result<v1::EchoResponse>> Echo(rpc::Context& context, const v1::EchoRequest& request) override {
    auto reply = co_await inner_.Echo(context, request);
    if (reply) reply->add_tags(name_);
    context.response_headers.push_back({"x-colony", name_});
    context.response_trailers.push_back({"x-colony-trailer", name_});
    co_return reply;
  }
  rpc::Awaitable<rpc::Result<v1::FailResponse>> Fail(rpc::Context& context, const v1::FailRequest& request) override {
    auto reply = co_await inner_.Fail(context, request);
    if (!reply) reply.error().metadata.push_back({"x-failed-in", name_});
    co_return reply;
  }
  rpc::Awaitable<rpc::Result<v1::SleepResponse>> Sleep(rpc::Context& context,
                                                       const v1::SleepRequest& request) override {
    auto reply = co_await inner_.Sleep(context, request);
    co_return reply;
  }
  rpc::Awaitable<rpc::Status> Count(rpc::Context& context, const v1::CountRequest& request,
                                    rpc::ServerWriter<v1::CountResponse>& writer) override {
    context.response_trailers.push_back({"x-colony-trailer", name_});
    auto status = co_await inner_.Count(context, request, writer);
    co_return status;
  }

 private:
  std::string name_;
  coral::testing::EchoService inner_;
};

// One colony: the echo service on 127.0.0.1, recording the codes of the
// calls it finished.
class Colony {
 public:
  Colony(asio::io_context& io, std::string name, std::uint16_t port = 0)
      : name_(std::move(name)), service_(name_), rpc_(io.get_executor()) {
    rpc_.add(service_);
    rpc_.on_call([this](const rpc::CallRecord& record) {
      finished_.push_back(std::string(record.procedure) + " " + std::string(rpc::to_string(record.code)));
    });
    http_ = std::make_unique<http::Server>(io, rpc_);
    if (auto listening = http_->listen("127.0.0.1", port); !listening) {
      throw std::runtime_error("colony " + name_ + ": " + listening.error().message());
    }
    http_->start();
  }

  const std::string& name() const { return name_; }
  std::uint16_t port() const { return http_->port(); }
  http::Server& http() { return *http_; }
  std::size_t connection_count() const { return http_->connection_count(); }
  // "/pkg.Service/Method code" per finished call.
  const std::vector<std::string>& finished() const { return finished_; }

 private:
  std::string name_;
  ColonyEcho service_;
  rpc::Server rpc_;
  std::unique_ptr<http::Server> http_;
  std::vector<std::string> finished_;
};

// A loopback port with nothing listening on it (bound, then closed).
std::uint16_t free_port(asio::io_context& io) {
  asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  const auto port = probe.local_endpoint().port();
  probe.close();
  return port;
}

class ForwarderTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!wedged_) {
      // Graceful, while the loop still runs: the proxy first, then the colonies.
      channels_.clear();
      if (proxy_) shut_down(*proxy_);
      if (forwarder_) forwarder_->close();
      for (auto& colony : colonies_) {
        if (colony) shut_down(colony->http());
      }
      run_for(20ms);
    }
    proxy_.reset();
    forwarder_.reset();
    colonies_.clear();
  }

  // ------------------------------------------------------------ the loop

  void run_for(milliseconds duration) {
    const auto deadline = Clock::now() + duration;
    while (Clock::now() < deadline) {
      if (io_.stopped()) io_.restart();
      io_.run_one_for(5ms);
    }
  }

  bool run_until(const std::function<bool()>& done, milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      if (io_.stopped()) io_.restart();
      io_.run_one_for(5ms);
    }
    return true;
  }

  // Runs the coroutine `body` to completion, bounded by `timeout`.
  template <class Body>
  void run(Body body, milliseconds timeout = 10s) {
    auto done = std::make_shared<bool>(false);
    auto failure = std::make_shared<std::exception_ptr>();
    asio::co_spawn(io_, std::move(body), [done, failure](std::exception_ptr error) {
      *done = true;
      *failure = error;
    });
    if (!run_until([&] { return *done; }, timeout)) {
      wedged_ = true;  // the body still refers to the test's locals: never resume it
      FAIL() << "test body did not finish within " << timeout.count() << " ms";
    }
    if (*failure) std::rethrow_exception(*failure);
  }

  void shut_down(http::Server& server) {
    bool done = false;
    asio::co_spawn(io_, server.shutdown(100ms), [&done](std::exception_ptr) { done = true; });
    if (!run_until([&] { return done; }, 3s)) {
      wedged_ = true;
      ADD_FAILURE() << "server shutdown did not finish within 3 s";
    }
  }

  // ------------------------------------------------------------ setup

  Colony& add_colony(std::string name, std::uint16_t port = 0) {
    colonies_.push_back(std::make_unique<Colony>(io_, std::move(name), port));
    return *colonies_.back();
  }

  Upstream upstream(std::string colony_id, std::uint16_t port) {
    return Upstream{.colony_id = std::move(colony_id),
                    .target = net::Target{"127.0.0.1", port},
                    .dialer = net::tcp_dialer(io_.get_executor(), 2s),
                    .refusal = {}};
  }

  // The proxy, serving the colonies added so far (the first is the default).
  void start_proxy() {
    std::vector<Upstream> upstreams;
    for (const auto& colony : colonies_) upstreams.push_back(upstream(colony->name(), colony->port()));
    start_proxy(std::move(upstreams));
  }

  void start_proxy(std::vector<Upstream> upstreams) {
    forwarder_ = std::make_unique<Forwarder>(
        io_.get_executor(), std::move(upstreams),
        [this] {
          ++health_calls_;
          return health_json_;
        },
        forwarder_options_);
    proxy_ = std::make_unique<http::Server>(io_, *forwarder_);
    auto listening = proxy_->listen("127.0.0.1", 0);
    ASSERT_TRUE(listening) << listening.error().message();
    proxy_->start();
  }

  // Stops the proxy and starts a new one for `upstreams`. Gracefully: an
  // http::Server destroyed before its io_context ever ran its accept loop
  // is a use-after-free (the loop's first step reads the freed server).
  void replace_proxy(std::vector<Upstream> upstreams) {
    shut_down(*proxy_);
    proxy_.reset();
    forwarder_.reset();
    start_proxy(std::move(upstreams));
  }

  // A Connect client of the proxy; `prefix` is "" or "/<colony-id>".
  rpc::HttpChannel& channel(http::Version version, rpc::Encoding encoding = rpc::Encoding::proto,
                            std::string prefix = "") {
    channels_.push_back(std::make_unique<rpc::HttpChannel>(
        io_.get_executor(), rpc::ChannelOptions{.url = http::Url{"127.0.0.1", proxy_->port(), std::move(prefix)},
                                                .version = version,
                                                .encoding = encoding,
                                                .gzip_requests = false,
                                                .max_message_bytes = 4 << 20,
                                                .connect_timeout = 2s,
                                                .dialer = {}}));
    return *channels_.back();
  }

  // One Echo through the proxy; the reply or the error.
  rpc::Result<v1::EchoResponse> echo(rpc::HttpChannel& through, std::string text, rpc::CallOptions options = {}) {
    std::optional<rpc::Result<v1::EchoResponse>> out;
    run([&]() -> asio::awaitable<void> {
      v1::EchoServiceClient client(through);
      v1::EchoRequest request;
      request.set_text(text);
      out = co_await client.Echo(request, options);
    });
    if (!out) return rpc::fail(rpc::Code::unknown, "the call did not finish");
    return std::move(*out);
  }

  // ------------------------------------------------------------ raw HTTP

  // A raw exchange with the proxy over its own http::Client.
  std::shared_ptr<Collector> start_raw(http::Client& client, http::RequestHead head, std::string body) {
    auto collector = std::make_shared<Collector>();
    asio::co_spawn(io_, drive(client, net::Target{"127.0.0.1", proxy_->port()}, std::move(head), std::move(body),
                              collector),
                   asio::detached);
    return collector;
  }

  RawResponse exchange(http::Version version, http::RequestHead head, std::string body = {}) {
    http::Client client(io_.get_executor(), http::ClientOptions{.version = version,
                                                                .connect_timeout = 2s,
                                                                .dialer = {}});
    auto collector = start_raw(client, std::move(head), std::move(body));
    if (!run_until([&] { return collector->response.ended; }, 5s)) collector->response.timed_out = true;
    client.close();
    run_for(10ms);
    return collector->response;
  }

  Decoded call_raw(http::Version version, const Shape& shape, std::string_view path,
                   const google::protobuf::Message& message, http::Fields extra = {}) {
    auto request = rpc::harness::make_request(shape, path, message, std::move(extra));
    return rpc::harness::decode_response(shape, exchange(version, std::move(request.head), std::move(request.body)));
  }

  // One HTTP/1.1 exchange as raw bytes on a loopback socket: `request`
  // out, the response read until it is complete (bounded).
  std::optional<rpc::harness::H1Response> raw_h1(std::string request) {
    auto received = std::make_shared<std::string>();
    auto complete = [received] {
      const auto parsed = rpc::harness::parse_h1_response(*received);
      return parsed && parsed->complete;
    };
    auto socket = std::make_shared<asio::ip::tcp::socket>(io_);
    auto finished = std::make_shared<bool>(false);
    const asio::ip::tcp::endpoint proxy(asio::ip::make_address("127.0.0.1"), proxy_->port());
    asio::co_spawn(
        io_,
        [socket, received, finished, complete, proxy, request]() -> asio::awaitable<void> {
          boost::system::error_code ec;
          co_await socket->async_connect(proxy, asio::redirect_error(asio::use_awaitable, ec));
          if (!ec) co_await asio::async_write(*socket, asio::buffer(request), asio::redirect_error(asio::use_awaitable, ec));
          char buffer[16 * 1024];
          while (!ec && !complete()) {
            const auto n = co_await socket->async_read_some(asio::buffer(buffer),
                                                            asio::redirect_error(asio::use_awaitable, ec));
            received->append(buffer, n);
          }
          *finished = true;
        },
        asio::detached);
    const bool done = run_until([&] { return *finished; }, 5s);
    boost::system::error_code ignored;
    socket->close(ignored);
    run_for(10ms);
    EXPECT_TRUE(done) << "no complete response in 5 s; got: " << rpc::harness::printable(*received);
    auto parsed = rpc::harness::parse_h1_response(*received);
    if (!parsed || !parsed->complete) {
      ADD_FAILURE() << "incomplete response: " << rpc::harness::printable(*received);
      return std::nullopt;
    }
    return parsed;
  }

  static asio::awaitable<void> drive(http::Client& client, net::Target target, http::RequestHead head,
                                     std::string body, std::shared_ptr<Collector> collector) {
    const bool end_now = body.empty();
    auto writer = co_await client.start(target, std::move(head), end_now, collector);
    if (!writer) {
      collector->end("cannot start: " + writer.error());
      co_return;
    }
    if (collector->response.ended) co_return;
    collector->writer = *writer;
    if (!body.empty()) (*writer)->send_data(http::as_bytes(body), true);
  }

  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
  std::vector<std::unique_ptr<Colony>> colonies_;
  ForwarderOptions forwarder_options_;  // start_proxy() uses them
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<http::Server> proxy_;
  std::vector<std::unique_ptr<rpc::HttpChannel>> channels_;
  std::string health_json_ = "{\"status\":\"ok\",\"colonies\":[\"alpha\"]}";
  int health_calls_ = 0;
  bool wedged_ = false;
};

bool has_tag(const v1::EchoResponse& reply, std::string_view tag) {
  return std::find(reply.tags().begin(), reply.tags().end(), tag) != reply.tags().end();
}

// ============================================== Connect through the proxy

struct Mode {
  http::Version version;
  rpc::Encoding encoding;
};

class ForwarderConnectTest : public ForwarderTest, public ::testing::WithParamInterface<Mode> {
 protected:
  void SetUp() override {
    add_colony("alpha");
    start_proxy();
  }
  rpc::HttpChannel& client_channel() { return channel(GetParam().version, GetParam().encoding); }
};

TEST_P(ForwarderConnectTest, UnaryCallGetsTheColonysAnswer) {
  auto& through = client_channel();
  std::optional<rpc::Result<v1::EchoResponse>> reply;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::EchoRequest request;
    request.set_text("hello through the proxy");
    request.set_number(-42);
    request.set_payload(std::string("\0\x01\xff", 3));
    request.add_tags("first");
    const rpc::CallOptions options{.timeout = 5s, .headers = {{"x-test-echo", "seen upstream"}}};
    reply = co_await client.Echo(request, options);
  });
  ASSERT_TRUE(reply);
  ASSERT_TRUE(*reply) << (*reply).error().message;
  const auto& answer = **reply;
  EXPECT_EQ(answer.text(), "hello through the proxy");
  EXPECT_EQ(answer.number(), -42);
  EXPECT_EQ(answer.payload(), std::string("\0\x01\xff", 3));
  ASSERT_EQ(answer.tags_size(), 2);
  EXPECT_EQ(answer.tags(0), "first");
  EXPECT_EQ(answer.tags(1), "alpha");
  EXPECT_EQ(answer.protocol(), "connect");
  EXPECT_EQ(answer.encoding(), rpc::to_string(GetParam().encoding));
  EXPECT_EQ(answer.http_version(), "HTTP/2") << "the proxy talks h2c to colonies";
  EXPECT_EQ(answer.header_echo(), "seen upstream") << "request headers pass through";

  EXPECT_EQ(forwarder_->stats().requests, 1u);
  EXPECT_EQ(forwarder_->stats().failed, 0u);
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
  EXPECT_EQ(forwarder_->upstream_error(0), "");
}

TEST_P(ForwarderConnectTest, UnaryErrorKeepsItsCodeAndMessage) {
  auto& through = client_channel();
  std::optional<rpc::Result<v1::FailResponse>> reply;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::FailRequest request;
    request.set_code("permission_denied");
    request.set_message("colony says no: \"quoted\" and ünïcode");
    reply = co_await client.Fail(request);
  });
  ASSERT_TRUE(reply);
  ASSERT_FALSE(*reply);
  EXPECT_EQ(reply->error().code, rpc::Code::permission_denied);
  EXPECT_EQ(reply->error().message, "colony says no: \"quoted\" and ünïcode");
  // The colony answered: that is not a proxy failure.
  EXPECT_EQ(forwarder_->stats().failed, 0u);
  EXPECT_EQ(forwarder_->upstream_error(0), "");
}

TEST_P(ForwarderConnectTest, ServerStreamArrivesInOrder) {
  auto& through = client_channel();
  std::vector<std::uint32_t> indexes;
  std::size_t payload_bytes = 0;
  std::optional<rpc::Status> status;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::CountRequest request;
    request.set_count(6);
    request.set_interval_millis(5);
    request.set_payload_bytes(3000);
    std::function<void(const v1::CountResponse&)> on_message = [&](const v1::CountResponse& message) {
      indexes.push_back(message.index());
      payload_bytes += message.payload().size();
    };
    status = co_await client.Count(request, on_message);
  });
  ASSERT_TRUE(status);
  EXPECT_TRUE(*status) << status->error().message;
  EXPECT_EQ(indexes, (std::vector<std::uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(payload_bytes, 6u * 3000u);
}

TEST_P(ForwarderConnectTest, ServerStreamEndingInErrorKeepsTheError) {
  auto& through = client_channel();
  std::vector<std::uint32_t> indexes;
  std::optional<rpc::Status> status;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::CountRequest request;
    request.set_count(3);
    request.set_fail_code("resource_exhausted");
    std::function<void(const v1::CountResponse&)> on_message = [&](const v1::CountResponse& message) {
      indexes.push_back(message.index());
    };
    status = co_await client.Count(request, on_message);
  });
  ASSERT_TRUE(status);
  ASSERT_FALSE(*status);
  EXPECT_EQ(status->error().code, rpc::Code::resource_exhausted);
  EXPECT_EQ(status->error().message, "count failed: resource_exhausted");
  EXPECT_EQ(indexes, (std::vector<std::uint32_t>{0, 1, 2}));
}

TEST_P(ForwarderConnectTest, LargeMessagesFlowBothWays) {
  // Larger than HTTP/2's initial 64 KiB windows, in both directions.
  auto& through = client_channel();
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7 + i / 251);
  std::optional<rpc::Result<v1::EchoResponse>> reply;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::EchoRequest request;
    request.set_payload(payload);
    reply = co_await client.Echo(request);
  });
  ASSERT_TRUE(reply);
  ASSERT_TRUE(*reply) << (*reply).error().message;
  EXPECT_TRUE((*reply)->payload() == payload) << "payload of " << (*reply)->payload().size() << " bytes differs";
}

TEST_P(ForwarderConnectTest, UnreachableColonyIsUnavailableNamingIt) {
  // Replace the proxy with one whose colony has nothing listening.
  const auto port = free_port(io_);
  replace_proxy({upstream("ghost", port)});
  auto& through = client_channel();

  std::optional<rpc::Result<v1::EchoResponse>> unary;
  std::optional<rpc::Status> streamed;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    v1::EchoRequest request;
    unary = co_await client.Echo(request);
    v1::CountRequest count;
    count.set_count(2);
    std::function<void(const v1::CountResponse&)> on_message = [](const v1::CountResponse&) {};
    streamed = co_await client.Count(count, on_message);
  });
  const std::string where = "127.0.0.1:" + std::to_string(port);
  ASSERT_TRUE(unary);
  ASSERT_FALSE(*unary);
  EXPECT_EQ(unary->error().code, rpc::Code::unavailable);
  EXPECT_NE(unary->error().message.find("colony ghost"), std::string::npos) << unary->error().message;
  EXPECT_NE(unary->error().message.find("not reachable"), std::string::npos) << unary->error().message;
  EXPECT_NE(unary->error().message.find(where), std::string::npos) << unary->error().message;
  EXPECT_NE(unary->error().message.find("refused"), std::string::npos) << unary->error().message;

  ASSERT_TRUE(streamed);
  ASSERT_FALSE(*streamed);
  EXPECT_EQ(streamed->error().code, rpc::Code::unavailable);
  EXPECT_NE(streamed->error().message.find("colony ghost"), std::string::npos) << streamed->error().message;
  EXPECT_NE(streamed->error().message.find("not reachable"), std::string::npos) << streamed->error().message;

  EXPECT_EQ(forwarder_->stats().requests, 2u);
  EXPECT_EQ(forwarder_->stats().failed, 2u);
  EXPECT_NE(forwarder_->upstream_error(0).find("refused"), std::string::npos) << forwarder_->upstream_error(0);
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
}

TEST_P(ForwarderConnectTest, UnknownColonyIdIsNotFoundNamingIt) {
  auto& through = client_channel();
  std::optional<rpc::Result<v1::EchoResponse>> unary;
  std::optional<rpc::Status> streamed;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(through);
    const rpc::CallOptions options{.timeout = 5s, .headers = {{"colony-id", "nowhere"}}};
    v1::EchoRequest request;
    unary = co_await client.Echo(request, options);
    v1::CountRequest count;
    count.set_count(2);
    std::function<void(const v1::CountResponse&)> on_message = [](const v1::CountResponse&) {};
    streamed = co_await client.Count(count, on_message, options);
  });
  ASSERT_TRUE(unary);
  ASSERT_FALSE(*unary);
  EXPECT_EQ(unary->error().code, rpc::Code::not_found);
  EXPECT_NE(unary->error().message.find("nowhere"), std::string::npos) << unary->error().message;
  EXPECT_NE(unary->error().message.find("alpha"), std::string::npos) << unary->error().message;
  ASSERT_TRUE(streamed);
  ASSERT_FALSE(*streamed);
  EXPECT_EQ(streamed->error().code, rpc::Code::not_found);
  EXPECT_NE(streamed->error().message.find("nowhere"), std::string::npos) << streamed->error().message;

  EXPECT_EQ(forwarder_->stats().requests, 2u);
  EXPECT_EQ(forwarder_->stats().failed, 2u);
  EXPECT_TRUE(colonies_[0]->finished().empty()) << "the colony must not see the calls";
}

INSTANTIATE_TEST_SUITE_P(Modes, ForwarderConnectTest,
                         ::testing::Values(Mode{http::Version::http1_1, rpc::Encoding::proto},
                                           Mode{http::Version::http1_1, rpc::Encoding::json},
                                           Mode{http::Version::http2, rpc::Encoding::proto},
                                           Mode{http::Version::http2, rpc::Encoding::json}),
                         [](const ::testing::TestParamInfo<Mode>& info) {
                           return rpc::harness::version_name(info.param.version) + "_" +
                                  std::string(rpc::to_string(info.param.encoding));
                         });

// ============================================== headers and trailers, raw

class ForwarderWireTest : public ForwarderTest {
 protected:
  void SetUp() override {
    add_colony("alpha");
    start_proxy();
  }
};

TEST_F(ForwarderWireTest, ConnectUnaryHeadersAndTrailersPassThrough) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    v1::EchoRequest request;
    request.set_text("hi");
    const Shape shape{};
    const auto decoded = call_raw(version, shape, v1::kEchoServiceEchoPath, request);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    ASSERT_TRUE(decoded.status) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 200);
    EXPECT_EQ(rpc::harness::field(decoded.headers, "x-colony"), "alpha");
    EXPECT_EQ(rpc::harness::field(decoded.headers, "trailer-x-colony-trailer"), "alpha");
    ASSERT_EQ(decoded.messages.size(), 1u);
    const auto reply = rpc::harness::parse_message<v1::EchoResponse>(rpc::Encoding::proto, decoded.messages[0]);
    EXPECT_EQ(reply.text(), "hi");
  }
}

TEST_F(ForwarderWireTest, ConnectUnaryErrorMetadataPassesThrough) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    v1::FailRequest request;
    request.set_code("not_found");
    request.set_message("no such thing");
    const Shape shape{.protocol = rpc::Protocol::connect, .encoding = rpc::Encoding::json, .streaming = false,
                      .gzip = false};
    const auto decoded = call_raw(version, shape, v1::kEchoServiceFailPath, request);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_EQ(decoded.http_status, 404);
    EXPECT_EQ(decoded.code(), rpc::Code::not_found) << decoded.describe();
    EXPECT_EQ(decoded.message(), "no such thing");
    EXPECT_EQ(rpc::harness::field(decoded.headers, "x-failed-in"), "alpha");
  }
}

TEST_F(ForwarderWireTest, ConnectStreamEndMessageCarriesTrailers) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    v1::CountRequest request;
    request.set_count(2);
    const Shape shape{.protocol = rpc::Protocol::connect, .encoding = rpc::Encoding::proto, .streaming = true,
                      .gzip = false};
    const auto decoded = call_raw(version, shape, v1::kEchoServiceCountPath, request);
    EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
    EXPECT_TRUE(decoded.status) << decoded.describe();
    EXPECT_EQ(decoded.messages.size(), 2u);
    EXPECT_NE(decoded.end_stream_json.find("x-colony-trailer"), std::string::npos) << decoded.end_stream_json;
  }
}

TEST_F(ForwarderWireTest, GrpcOverH2cKeepsHttpTrailers) {
  v1::EchoRequest request;
  request.set_text("grpc");
  const Shape shape{.protocol = rpc::Protocol::grpc, .encoding = rpc::Encoding::proto, .streaming = false,
                    .gzip = false};
  const auto ok = call_raw(http::Version::http2, shape, v1::kEchoServiceEchoPath, request);
  EXPECT_TRUE(ok.problems.empty()) << ok.describe();
  ASSERT_TRUE(ok.status) << ok.describe();
  EXPECT_EQ(ok.source, rpc::harness::StatusSource::trailers) << ok.describe();
  EXPECT_EQ(rpc::harness::field(ok.status_fields, "x-colony-trailer"), "alpha");
  EXPECT_EQ(rpc::harness::field(ok.headers, "x-colony"), "alpha");
  ASSERT_EQ(ok.messages.size(), 1u);
  const auto reply = rpc::harness::parse_message<v1::EchoResponse>(rpc::Encoding::proto, ok.messages[0]);
  EXPECT_EQ(reply.text(), "grpc");
  EXPECT_EQ(reply.protocol(), "grpc");

  v1::FailRequest fail;
  fail.set_code("aborted");
  fail.set_message("try again");
  const auto failed = call_raw(http::Version::http2, shape, v1::kEchoServiceFailPath, fail);
  EXPECT_TRUE(failed.problems.empty()) << failed.describe();
  EXPECT_EQ(failed.code(), rpc::Code::aborted) << failed.describe();
  EXPECT_EQ(failed.message(), "try again");
  EXPECT_EQ(rpc::harness::field(failed.status_fields, "x-failed-in"), "alpha");
}

TEST_F(ForwarderWireTest, GrpcStreamOverH2c) {
  v1::CountRequest request;
  request.set_count(4);
  request.set_fail_code("data_loss");
  const Shape shape{.protocol = rpc::Protocol::grpc, .encoding = rpc::Encoding::proto, .streaming = true,
                    .gzip = false};
  const auto decoded = call_raw(http::Version::http2, shape, v1::kEchoServiceCountPath, request);
  EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
  EXPECT_EQ(decoded.messages.size(), 4u);
  EXPECT_EQ(decoded.code(), rpc::Code::data_loss) << decoded.describe();
  EXPECT_EQ(rpc::harness::field(decoded.status_fields, "x-colony-trailer"), "alpha");
}

TEST_F(ForwarderWireTest, GrpcWebOverHttp1) {
  v1::CountRequest request;
  request.set_count(3);
  const Shape shape{.protocol = rpc::Protocol::grpc_web, .encoding = rpc::Encoding::proto, .streaming = true,
                    .gzip = false};
  const auto decoded = call_raw(http::Version::http1_1, shape, v1::kEchoServiceCountPath, request);
  EXPECT_TRUE(decoded.problems.empty()) << decoded.describe();
  EXPECT_TRUE(decoded.status) << decoded.describe();
  EXPECT_EQ(decoded.messages.size(), 3u);
  EXPECT_EQ(decoded.source, rpc::harness::StatusSource::web_trailer_frame) << decoded.describe();
  EXPECT_EQ(rpc::harness::field(decoded.status_fields, "x-colony-trailer"), "alpha");
}

TEST_F(ForwarderWireTest, UnreachableColonyAnswersInTheCallersProtocol) {
  replace_proxy({upstream("ghost", free_port(io_))});
  v1::EchoRequest request;

  const Shape grpc{.protocol = rpc::Protocol::grpc, .encoding = rpc::Encoding::proto, .streaming = false,
                   .gzip = false};
  const auto over_grpc = call_raw(http::Version::http2, grpc, v1::kEchoServiceEchoPath, request);
  EXPECT_TRUE(over_grpc.problems.empty()) << over_grpc.describe();
  EXPECT_EQ(over_grpc.code(), rpc::Code::unavailable) << over_grpc.describe();
  EXPECT_NE(over_grpc.message().find("colony ghost is not reachable"), std::string::npos) << over_grpc.describe();

  const Shape web{.protocol = rpc::Protocol::grpc_web, .encoding = rpc::Encoding::proto, .streaming = false,
                  .gzip = false};
  const auto over_web = call_raw(http::Version::http1_1, web, v1::kEchoServiceEchoPath, request);
  EXPECT_TRUE(over_web.problems.empty()) << over_web.describe();
  EXPECT_EQ(over_web.code(), rpc::Code::unavailable) << over_web.describe();
  EXPECT_NE(over_web.message().find("colony ghost is not reachable"), std::string::npos) << over_web.describe();

  const Shape unary{};
  const auto over_connect = call_raw(http::Version::http1_1, unary, v1::kEchoServiceEchoPath, request);
  EXPECT_EQ(over_connect.http_status, 503) << over_connect.describe();
  EXPECT_EQ(over_connect.code(), rpc::Code::unavailable) << over_connect.describe();
}

TEST_F(ForwarderWireTest, ConnectionListedFieldsDoNotReachTheColony) {
  // "Connection: x-test-echo" makes x-test-echo hop-by-hop: the colony must
  // not see it (the echo service reports what it saw). Raw bytes, as
  // coral's own client never sends Connection.
  const auto request = [](std::string_view extra) {
    return "POST /coral.testing.v1.EchoService/Echo HTTP/1.1\r\nHost: localhost\r\n"
           "Content-Type: application/proto\r\nConnect-Protocol-Version: 1\r\n" +
           std::string(extra) + "Content-Length: 0\r\n\r\n";
  };
  const auto hop = raw_h1(request("Connection: keep-alive, X-Test-Echo\r\nX-Test-Echo: hop\r\n"));
  ASSERT_TRUE(hop);
  ASSERT_EQ(hop->status, 200) << hop->body;
  EXPECT_EQ(rpc::harness::parse_message<v1::EchoResponse>(rpc::Encoding::proto, hop->body).header_echo(), "");

  const auto end_to_end = raw_h1(request("X-Test-Echo: end-to-end\r\n"));
  ASSERT_TRUE(end_to_end);
  ASSERT_EQ(end_to_end->status, 200) << end_to_end->body;
  EXPECT_EQ(rpc::harness::parse_message<v1::EchoResponse>(rpc::Encoding::proto, end_to_end->body).header_echo(),
            "end-to-end");
}

TEST_F(ForwarderWireTest, ClientGoingAwayEndsTheColonysCall) {
  http::Client client(io_.get_executor(), http::ClientOptions{.version = http::Version::http2,
                                                              .connect_timeout = 2s,
                                                              .dialer = {}});
  v1::CountRequest count;
  count.set_count(1000);
  count.set_interval_millis(10);
  const Shape shape{.protocol = rpc::Protocol::connect, .encoding = rpc::Encoding::proto, .streaming = true,
                    .gzip = false};
  auto request = rpc::harness::make_request(shape, v1::kEchoServiceCountPath, count);
  auto collector = start_raw(client, std::move(request.head), std::move(request.body));
  ASSERT_TRUE(run_until([&] { return collector->response.body.size() >= 3 * 5; }, 5s))
      << "no messages through the proxy";
  EXPECT_EQ(forwarder_->stats().active, 1u);

  client.close();
  EXPECT_TRUE(run_until([&] { return !colonies_[0]->finished().empty(); }, 3s))
      << "the colony's call kept running after the client left";
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 3s))
      << "active: " << forwarder_->stats().active;
  if (!colonies_[0]->finished().empty()) {
    EXPECT_EQ(colonies_[0]->finished()[0], std::string(v1::kEchoServiceCountPath) + " canceled");
  }
}

// ============================================== two colonies

class ForwarderRoutingTest : public ForwarderTest {
 protected:
  void SetUp() override {
    add_colony("alpha");
    add_colony("beta");
    start_proxy();
  }
};

TEST_F(ForwarderRoutingTest, PathPrefixPicksTheColony) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    const auto beta = echo(channel(version, rpc::Encoding::proto, "/beta"), "to beta");
    ASSERT_TRUE(beta) << beta.error().message;
    EXPECT_TRUE(has_tag(*beta, "beta"));
    EXPECT_FALSE(has_tag(*beta, "alpha"));
    EXPECT_EQ(beta->text(), "to beta");

    const auto alpha = echo(channel(version, rpc::Encoding::json, "/alpha"), "to alpha");
    ASSERT_TRUE(alpha) << alpha.error().message;
    EXPECT_TRUE(has_tag(*alpha, "alpha"));
    EXPECT_FALSE(has_tag(*alpha, "beta"));

    const auto fallback = echo(channel(version), "to the default");
    ASSERT_TRUE(fallback) << fallback.error().message;
    EXPECT_TRUE(has_tag(*fallback, "alpha")) << "the first colony is the default";
  }
}

TEST_F(ForwarderRoutingTest, ColonyIdHeaderPicksTheColony) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    auto& through = channel(version);
    const auto beta = echo(through, "b", rpc::CallOptions{.timeout = 5s, .headers = {{"colony-id", "beta"}}});
    ASSERT_TRUE(beta) << beta.error().message;
    EXPECT_TRUE(has_tag(*beta, "beta"));
    const auto alpha = echo(through, "a", rpc::CallOptions{.timeout = 5s, .headers = {{"colony-id", "alpha"}}});
    ASSERT_TRUE(alpha) << alpha.error().message;
    EXPECT_TRUE(has_tag(*alpha, "alpha"));
  }
}

TEST_F(ForwarderRoutingTest, StreamsGoToTheirColonies) {
  auto& to_beta = channel(http::Version::http2, rpc::Encoding::proto, "/beta");
  std::vector<std::uint32_t> indexes;
  std::optional<rpc::Status> status;
  run([&]() -> asio::awaitable<void> {
    v1::EchoServiceClient client(to_beta);
    v1::CountRequest request;
    request.set_count(3);
    std::function<void(const v1::CountResponse&)> on_message = [&](const v1::CountResponse& message) {
      indexes.push_back(message.index());
    };
    status = co_await client.Count(request, on_message);
  });
  ASSERT_TRUE(status);
  EXPECT_TRUE(*status) << status->error().message;
  EXPECT_EQ(indexes.size(), 3u);
  EXPECT_TRUE(colonies_[0]->finished().empty());
  ASSERT_EQ(colonies_[1]->finished().size(), 1u);
  EXPECT_EQ(colonies_[1]->finished()[0], std::string(v1::kEchoServiceCountPath) + " ok");
}

TEST_F(ForwarderRoutingTest, UnknownColonyIdNamesItAndTheServedOnes) {
  const auto reply = echo(channel(http::Version::http2), "x",
                          rpc::CallOptions{.timeout = 5s, .headers = {{"colony-id", "gamma"}}});
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, rpc::Code::not_found);
  EXPECT_NE(reply.error().message.find("gamma"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("alpha"), std::string::npos) << reply.error().message;
  EXPECT_NE(reply.error().message.find("beta"), std::string::npos) << reply.error().message;
  EXPECT_TRUE(colonies_[0]->finished().empty());
  EXPECT_TRUE(colonies_[1]->finished().empty());
}

TEST_F(ForwarderRoutingTest, OneDownColonyDoesNotAffectTheOther) {
  shut_down(colonies_[1]->http());
  colonies_[1].reset();
  const auto beta = echo(channel(http::Version::http2, rpc::Encoding::proto, "/beta"), "b");
  ASSERT_FALSE(beta);
  EXPECT_EQ(beta.error().code, rpc::Code::unavailable);
  EXPECT_NE(beta.error().message.find("colony beta"), std::string::npos) << beta.error().message;
  EXPECT_NE(forwarder_->upstream_error(1), "");
  EXPECT_EQ(forwarder_->upstream_error(0), "");

  const auto alpha = echo(channel(http::Version::http2), "a");
  ASSERT_TRUE(alpha) << alpha.error().message;
  EXPECT_TRUE(has_tag(*alpha, "alpha"));
  EXPECT_NE(forwarder_->upstream_error(1), "") << "only a success clears a colony's error";
}

TEST_F(ForwarderRoutingTest, EachColonyGetsOneMultiplexedConnection) {
  auto& through = channel(http::Version::http2);
  int answered = 0;
  int launched = 0;
  for (int i = 0; i < 24; ++i) {
    asio::co_spawn(
        io_,
        [&, i]() -> asio::awaitable<void> {
          ++launched;
          v1::EchoServiceClient client(through);
          v1::EchoRequest request;
          request.set_number(i);
          const rpc::CallOptions options{.timeout = 5s, .headers = {{"colony-id", i % 2 ? "beta" : "alpha"}}};
          auto reply = co_await client.Echo(request, options);
          if (reply && reply->number() == i && has_tag(*reply, i % 2 ? "beta" : "alpha")) ++answered;
        },
        asio::detached);
  }
  EXPECT_TRUE(run_until([&] { return answered == 24; }, 10s)) << answered << " of " << launched << " answered";
  EXPECT_EQ(colonies_[0]->connection_count(), 1u);
  EXPECT_EQ(colonies_[1]->connection_count(), 1u);
  EXPECT_EQ(forwarder_->stats().requests, 24u);
  EXPECT_EQ(forwarder_->stats().failed, 0u);
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
}

// ============================================== colonies going away

class ForwarderRestartTest : public ForwarderTest {
 protected:
  void SetUp() override {
    add_colony("alpha");
    start_proxy();
    port_ = colonies_[0]->port();
  }

  void stop_colony() {
    shut_down(colonies_[0]->http());
    colonies_[0].reset();
  }
  void restart_colony() { colonies_[0] = std::make_unique<Colony>(io_, "alpha", port_); }

  std::uint16_t port_ = 0;
};

TEST_F(ForwarderRestartTest, FailureIsRecordedAndTheNextCallAfterARestartWorks) {
  auto& through = channel(http::Version::http2);
  const auto before = echo(through, "before");
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(forwarder_->upstream_error(0), "");

  stop_colony();
  const auto down = echo(through, "while down");
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, rpc::Code::unavailable) << down.error().message;
  EXPECT_NE(down.error().message.find("colony alpha"), std::string::npos) << down.error().message;
  EXPECT_NE(forwarder_->upstream_error(0), "");
  EXPECT_GE(forwarder_->stats().failed, 1u);

  ASSERT_NO_THROW(restart_colony());
  const auto after = echo(through, "after");
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->text(), "after");
  EXPECT_EQ(forwarder_->upstream_error(0), "") << "a success clears the colony's error";
  EXPECT_EQ(forwarder_->stats().requests, 3u);
  EXPECT_EQ(forwarder_->stats().failed, 1u);
}

TEST_F(ForwarderRestartTest, BrokenConnectionIsDialledAgainByTheNextCall) {
  // No call while the colony is down: the proxy's connection to it broke
  // in the meantime, and the next call must not be lost on it.
  for (const auto version : {http::Version::http2, http::Version::http1_1}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    auto& through = channel(version);
    const auto before = echo(through, "before");
    ASSERT_TRUE(before) << before.error().message;

    stop_colony();
    run_for(50ms);
    ASSERT_NO_THROW(restart_colony());

    const auto after = echo(through, "after");
    ASSERT_TRUE(after) << after.error().message;
    EXPECT_EQ(after->text(), "after");
    EXPECT_EQ(forwarder_->stats().failed, 0u);
  }
}

// ============================================== the proxy's own endpoints

class ForwarderEndpointTest : public ForwarderTest {
 protected:
  void SetUp() override {
    add_colony("alpha");
    start_proxy();
  }
  static http::RequestHead get(std::string path) {
    http::RequestHead head;
    head.method = "GET";
    head.path = std::move(path);
    head.authority = "localhost";
    return head;
  }
};

TEST_F(ForwarderEndpointTest, HealthReturnsTheCallbacksJson) {
  for (const auto version : {http::Version::http1_1, http::Version::http2}) {
    SCOPED_TRACE(rpc::harness::version_name(version));
    health_json_ = std::string("{\"status\":\"ok\",\"over\":\"") + std::string(http::to_string(version)) + "\"}";
    const auto response = exchange(version, get("/-/coral/proxy/health"));
    ASSERT_TRUE(response.has_head) << response.failure;
    EXPECT_EQ(response.failure, "");
    EXPECT_EQ(response.head.status, 200);
    EXPECT_EQ(rpc::harness::field(response.head.fields, "content-type"), "application/json");
    EXPECT_EQ(response.body, health_json_);
  }
  EXPECT_EQ(health_calls_, 2);
  EXPECT_EQ(forwarder_->stats().requests, 0u) << "the proxy's own endpoints are not forwarded requests";
  EXPECT_TRUE(colonies_[0]->finished().empty());
}

TEST_F(ForwarderEndpointTest, HealthOverARawHttp1Request) {
  const auto response = raw_h1("GET /-/coral/proxy/health HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(rpc::harness::field(response->fields, "content-type"), "application/json");
  EXPECT_EQ(response->body, health_json_);
}

TEST_F(ForwarderEndpointTest, HealthIgnoresTheQuery) {
  const auto response = exchange(http::Version::http1_1, get("/-/coral/proxy/health?verbose=1"));
  ASSERT_TRUE(response.has_head) << response.failure;
  EXPECT_EQ(response.head.status, 200);
  EXPECT_EQ(response.body, health_json_);
}

TEST_F(ForwarderEndpointTest, UnknownProxyEndpointIs404) {
  const auto response = exchange(http::Version::http2, get("/-/coral/proxy/nope"));
  ASSERT_TRUE(response.has_head) << response.failure;
  EXPECT_EQ(response.head.status, 404);
  EXPECT_NE(response.body.find("not_found"), std::string::npos) << response.body;
  EXPECT_EQ(forwarder_->stats().requests, 0u);
  EXPECT_TRUE(colonies_[0]->finished().empty());
}

TEST_F(ForwarderEndpointTest, ConnectIsRefusedNotForwarded) {
  const auto response = raw_h1("CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: 127.0.0.1:22\r\n\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 501);
  EXPECT_NE(response->body.find("does not tunnel"), std::string::npos) << response->body;
  EXPECT_EQ(forwarder_->stats().requests, 0u);
  EXPECT_TRUE(colonies_[0]->finished().empty());
}

TEST_F(ForwarderEndpointTest, StatsCountRequestsAndFailures) {
  auto& through = channel(http::Version::http2);
  ASSERT_TRUE(echo(through, "one"));
  ASSERT_TRUE(echo(through, "two"));
  EXPECT_FALSE(echo(through, "lost", rpc::CallOptions{.timeout = 5s, .headers = {{"colony-id", "zeta"}}}));
  EXPECT_EQ(forwarder_->stats().requests, 3u);
  EXPECT_EQ(forwarder_->stats().failed, 1u);
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
  ASSERT_EQ(forwarder_->upstreams().size(), 1u);
  EXPECT_EQ(forwarder_->upstreams()[0].colony_id, "alpha");
  EXPECT_EQ(forwarder_->upstreams()[0].target.port, colonies_[0]->port());
}

// ============================================== hostile and clumsy clients

TEST_F(ForwarderWireTest, RepeatedIdenticalContentLengthIsForwardedAsOne) {
  v1::EchoRequest message;
  message.set_text("twice");
  std::string payload;
  ASSERT_TRUE(message.SerializeToString(&payload));
  const auto request = [&](std::string_view lengths) {
    return "POST /coral.testing.v1.EchoService/Echo HTTP/1.1\r\nHost: localhost\r\n"
           "Content-Type: application/proto\r\nConnect-Protocol-Version: 1\r\n" +
           std::string(lengths) + "\r\n" + payload;
  };
  const std::string n = std::to_string(payload.size());
  const auto twice = raw_h1(request("Content-Length: " + n + "\r\nContent-Length: " + n + "\r\n"));
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 200) << twice->body;
  EXPECT_EQ(rpc::harness::parse_message<v1::EchoResponse>(rpc::Encoding::proto, twice->body).text(), "twice");

  const auto conflicting = raw_h1(request("Content-Length: " + n + "\r\nContent-Length: 1" + n + "\r\n"));
  ASSERT_TRUE(conflicting);
  EXPECT_EQ(conflicting->status, 400) << conflicting->body;
  EXPECT_EQ(colonies_[0]->finished().size(), 1u) << "the conflicting request reached the colony";
}

std::string text(const http::Fields& fields) {
  std::string out;
  for (const auto& field : fields) out += field.name + "=" + field.value + ";";
  return out;
}

TEST(MergeContentLengthTest, IdenticalValuesBecomeOneField) {
  http::Fields fields{{"content-length", "5"}, {"x-a", "1"}, {"content-length", " 5 "}};
  ASSERT_TRUE(merge_content_length(fields));
  EXPECT_EQ(text(fields), "x-a=1;content-length=5;");

  http::Fields list{{"content-length", "7, 7,7"}};
  ASSERT_TRUE(merge_content_length(list));
  EXPECT_EQ(text(list), "content-length=7;");

  http::Fields none{{"x-a", "1"}};
  ASSERT_TRUE(merge_content_length(none));
  EXPECT_EQ(text(none), "x-a=1;");
}

TEST(MergeContentLengthTest, DifferentOrMalformedValuesAreRefusedUntouched) {
  for (const http::Fields& bad :
       {http::Fields{{"content-length", "5"}, {"content-length", "6"}}, http::Fields{{"content-length", "5, 6"}},
        http::Fields{{"content-length", "5,"}}, http::Fields{{"content-length", ""}},
        http::Fields{{"content-length", "-5"}}, http::Fields{{"content-length", "5"}, {"content-length", "x"}}}) {
    http::Fields fields = bad;
    EXPECT_FALSE(merge_content_length(fields)) << bad[0].value;
    EXPECT_EQ(text(fields), text(bad));
  }
}

// A downstream writer that records what the forwarder does with it.
class RecordingWriter final : public http::ResponseWriter {
 public:
  void send_head(http::ResponseHead head, bool end_stream) override {
    status = head.status;
    ended = ended || end_stream;
  }
  void send_data(http::Bytes data, bool end_stream) override {
    body.append(http::as_chars(data));
    ended = ended || end_stream;
  }
  void send_trailers(http::Fields) override { ended = true; }
  void reset() override { was_reset = true; }
  std::size_t queued_bytes() const override { return unread; }
  void pause_body(bool paused) override {
    this->paused = paused;
    (paused ? pauses : resumes)++;
  }
  int status = 0;
  std::string body;
  bool ended = false;
  bool was_reset = false;
  bool paused = false;
  int pauses = 0;
  int resumes = 0;
  std::size_t unread = 0;  // what queued_bytes() reports: the client's unread response
};

// A colony that takes request bodies and answers once they end, counting
// the bytes it got.
class CountingColony final : public http::Application {
 public:
  struct Handler final : http::RequestHandler {
    CountingColony& colony;
    http::ResponseWriter& writer;
    Handler(CountingColony& c, http::ResponseWriter& w) : colony(c), writer(w) {}
    void on_body(http::Bytes chunk) override { colony.received += chunk.size(); }
    void on_end() override {
      if (colony.response_bytes > 0) {
        writer.send_head(http::ResponseHead{200, {}}, false);
        writer.send_data(http::as_bytes(std::string(colony.response_bytes, 'r')), true);
        return;
      }
      writer.send_head(http::ResponseHead{200, {{"content-length", "2"}}}, false);
      writer.send_data(http::as_bytes("ok"), true);
    }
    void on_reset() override { ++colony.resets; }
  };
  std::unique_ptr<http::RequestHandler> on_request(http::RequestHead, http::ResponseWriter& writer) override {
    return std::make_unique<Handler>(*this, writer);
  }
  std::size_t received = 0;
  int resets = 0;  // requests the client (the proxy) cancelled
  std::size_t response_bytes = 0;  // answer with this many bytes (0: "ok")
};

class ForwarderBackpressureTest : public ForwarderTest {
 protected:
  std::unique_ptr<http::RequestHandler> upload(RecordingWriter& writer) {
    http::RequestHead head;
    head.method = "POST";
    head.path = "/upload";
    head.authority = "localhost";
    head.fields = {{"content-type", "application/octet-stream"}};
    return forwarder_->on_request(std::move(head), writer);
  }
  static std::string chunk() { return std::string(64 * 1024, 'u'); }

  // A CountingColony answering `response_bytes`, serving, with the proxy in
  // front of it.
  struct LiveColony {
    CountingColony app;
    std::unique_ptr<http::Server> server;
  };
  std::unique_ptr<LiveColony> start_colony_and_proxy(std::size_t response_bytes = 0) {
    auto colony = std::make_unique<LiveColony>();
    colony->app.response_bytes = response_bytes;
    colony->server = std::make_unique<http::Server>(io_, colony->app);
    EXPECT_TRUE(colony->server->listen("127.0.0.1", 0));
    colony->server->start();
    start_proxy({upstream("alpha", colony->server->port())});
    return colony;
  }
};

// A colony that accepts the connection and never reads: the request body
// queues in the proxy until the high watermark, then the client's body is
// paused; what the proxy holds stays bounded by the watermark plus what the
// client had in flight.
TEST_F(ForwarderBackpressureTest, StalledColonyPausesTheClientsBody) {
  asio::ip::tcp::acceptor stalled(io_, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  asio::ip::tcp::socket held(io_);
  stalled.async_accept(held, [](boost::system::error_code) {});
  start_proxy({upstream("alpha", stalled.local_endpoint().port())});
  RecordingWriter writer;
  auto handler = upload(writer);
  const std::string data = chunk();
  int sent = 0;
  for (; sent < 64 && !writer.paused; ++sent) {
    handler->on_body(http::as_bytes(data));
    run_for(2ms);
  }
  EXPECT_TRUE(writer.paused) << "the body was not paused after " << sent << " chunks of 64 KiB";
  EXPECT_LE(sent * data.size(), kBodyHighWatermark + 64 * 1024 + 64 * 1024)
      << "the watermark plus the initial HTTP/2 window";
  EXPECT_EQ(writer.resumes, 0);
  handler.reset();  // the client goes away: nothing is held any more
  run_for(10ms);
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
}

// The body arrives faster than the connection to the colony opens: it is
// held while dialling, paused above the watermark, and resumed once the
// colony took everything (on_drained), before the request ends.
TEST_F(ForwarderBackpressureTest, DrainResumesTheClientsBody) {
  auto colony = start_colony_and_proxy();
  const CountingColony& app = colony->app;
  RecordingWriter writer;
  auto handler = upload(writer);
  const std::string data = chunk();
  for (int i = 0; i < 8; ++i) handler->on_body(http::as_bytes(data));  // before the dial completes
  EXPECT_TRUE(writer.paused);
  EXPECT_TRUE(run_until([&] { return writer.resumes > 0; }, 3s)) << "never resumed";
  EXPECT_FALSE(writer.ended) << "resumed by the drain, not by the end of the exchange";
  EXPECT_TRUE(run_until([&] { return app.received == 8 * data.size(); }, 3s)) << app.received;
  handler->on_body(http::as_bytes(data));
  handler->on_end();
  EXPECT_TRUE(run_until([&] { return writer.ended; }, 3s));
  EXPECT_EQ(writer.status, 200);
  EXPECT_EQ(writer.body, "ok");
  EXPECT_EQ(app.received, 9 * data.size());
  EXPECT_FALSE(writer.paused);
  handler.reset();
  shut_down(*colony->server);
}

// A client that does not read its response (a zero HTTP/2 window): the
// proxy pauses the colony's response once the client has 256 KiB unread,
// so it holds about the colony's stream window (1 MiB), not the 8 MiB
// answer; the client's drain resumes it.
TEST_F(ForwarderBackpressureTest, UnreadResponsePausesTheColony) {
  auto colony = start_colony_and_proxy(8 << 20);
  RecordingWriter writer;
  auto handler = upload(writer);
  handler->on_end();
  ASSERT_TRUE(run_until([&] { return writer.body.size() > 0; }, 3s));
  writer.unread = writer.body.size();
  handler->on_drained();  // nothing: not paused yet
  const auto unread = [&] {
    writer.unread = writer.body.size();  // the client reads nothing
    return false;
  };
  run_until(unread, 300ms);
  EXPECT_LE(writer.body.size(), std::size_t(3 << 19)) << "the proxy took more than the window and the watermark";
  EXPECT_FALSE(writer.ended);
  writer.unread = 0;
  handler->on_drained();
  EXPECT_TRUE(run_until([&] {
    if (writer.body.size() > 0) handler->on_drained();  // the client reads everything at once
    return writer.ended;
  }, 5s));
  EXPECT_EQ(writer.body.size(), std::size_t(8 << 20));
  handler.reset();
  shut_down(*colony->server);
}

// A client that reads nothing of a paused answer: after the timeout the
// proxy resets its stream and cancels the colony's, which would otherwise
// hold the rest of the answer against the connection every client shares.
TEST_F(ForwarderBackpressureTest, ClientThatReadsNothingIsResetAfterTheTimeout) {
  forwarder_options_.stalled_reader_timeout = 200ms;
  auto colony = start_colony_and_proxy(8 << 20);
  RecordingWriter writer;
  auto handler = upload(writer);
  handler->on_end();
  ASSERT_TRUE(run_until([&] {
    writer.unread = writer.body.size();  // the client reads nothing
    return writer.was_reset;
  }, 3s)) << "still waiting for the client after " << writer.body.size() << " bytes";
  EXPECT_FALSE(writer.ended);
  EXPECT_LE(writer.body.size(), std::size_t(3 << 19));
  EXPECT_EQ(forwarder_->stats().stalled, 1u);
  // The colony's stream is cancelled: it lets go of the rest of the answer.
  EXPECT_TRUE(run_until([&] { return colony->app.resets == 1; }, 2s)) << "the colony's stream was not cancelled";
  handler.reset();
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 2s));
  shut_down(*colony->server);
}

TEST_F(ForwarderBackpressureTest, ClientThatReadsSlowlyIsNotReset) {
  forwarder_options_.stalled_reader_timeout = 200ms;
  auto colony = start_colony_and_proxy(4 << 20);
  RecordingWriter writer;
  auto handler = upload(writer);
  handler->on_end();
  // Reads everything it was given every 100 ms: paused at times, never for the timeout.
  auto next_read = std::chrono::steady_clock::now();
  EXPECT_TRUE(run_until([&] {
    if (std::chrono::steady_clock::now() >= next_read) {
      writer.unread = 0;
      handler->on_drained();
      next_read += 100ms;
    } else {
      writer.unread = writer.body.size();
    }
    return writer.ended || writer.was_reset;
  }, 10s));
  EXPECT_FALSE(writer.was_reset);
  EXPECT_EQ(writer.body.size(), std::size_t(4 << 20));
  EXPECT_EQ(forwarder_->stats().stalled, 0u);
  EXPECT_EQ(colony->app.resets, 0);
  handler.reset();
  shut_down(*colony->server);
}

// Rapid reset through the proxy: attackers open requests and reset them
// once they went upstream, reconnecting before the proxy's own per-
// connection limit, while a normal client calls. The colony must not see a
// reset flood (it would GOAWAY the shared connection: failed calls, new
// connections), and the proxy must forget every cancelled request.
TEST_F(ForwarderWireTest, RapidResetByOneClientDoesNotHurtTheOthers) {
  const Shape shape{.protocol = rpc::Protocol::connect, .encoding = rpc::Encoding::proto, .streaming = false,
                    .gzip = false};
  v1::SleepRequest message;  // calls the colony is still running when they are reset
  message.set_millis(30);
  auto& through = channel(http::Version::http2);
  ASSERT_TRUE(echo(through, "warm up"));
  int failures = 0;
  int calls = 0;
  for (int connection = 0; connection < 3; ++connection) {
    asio::ip::tcp::socket socket(io_);
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), proxy_->port()));
    auto attacker = std::make_shared<http::Connection>(io_.get_executor(),
                                                       std::make_unique<net::TcpStream>(std::move(socket)));
    // The attacker's own codec resets without any budget.
    auto codec = http::make_h2_client_codec(attacker->waker(), http::H2ClientOptions{
        .reset_burst = 1'000'000, .resets_per_second = 1'000'000, .max_deferred_resets = 0, .now = {}});
    http::ClientCodec& client = *codec;
    attacker->start(std::move(codec));
    for (int round = 0; round < 9; ++round) {
      std::vector<http::RequestWriter*> writers;
      std::vector<std::shared_ptr<Collector>> collectors;
      for (int i = 0; i < 100 && client.can_start_request(); ++i) {
        auto request = rpc::harness::make_request(shape, v1::kEchoServiceSleepPath, message);
        request.head.authority = "localhost";
        request.head.version = http::Version::http2;
        collectors.push_back(std::make_shared<Collector>());
        writers.push_back(&client.start_request(std::move(request.head), false, collectors.back()));
        writers.back()->send_data(http::as_bytes(request.body), true);
      }
      run_for(3ms);  // the requests reach the proxy, which sends them on
      for (std::size_t i = 0; i < writers.size(); ++i) {
        if (!collectors[i]->response.ended) writers[i]->reset();
      }
      ++calls;
      if (!echo(through, "during the attack")) ++failures;
    }
    attacker->close();
    run_for(5ms);
  }
  EXPECT_EQ(failures, 0) << "of " << calls << " calls";
  EXPECT_TRUE(echo(through, "after the attack"));
  EXPECT_EQ(colonies_[0]->connection_count(), 1u) << "the proxy opened more colony connections";
  EXPECT_TRUE(run_until([&] { return forwarder_->stats().active == 0; }, 3s))
      << "active: " << forwarder_->stats().active;
  EXPECT_GT(forwarder_->stats().canceled, 1000u);
}

}  // namespace
}  // namespace coral::proxy
