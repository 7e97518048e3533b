// rpc::Server under a client that takes none of its answers: a call on a
// connection with more than connection_high_watermark queued waits before
// its handler runs, and runs once the connection drains (issue 16 §3: a
// zero-window HTTP/2 client with 512 streams made the colony hold one
// ListAgents answer per stream, 1.14 GB).

#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "echo_service.h"
#include "recording_writer.h"
#include "rpc/server.h"

namespace coral::rpc {
namespace {

using harness::RecordingWriter;
using harness::echo_request;

// An EchoService server whose connections are congested above 1 MiB.
struct EchoServer {
  boost::asio::io_context io;
  testing::EchoService echo;
  Server server{io.get_executor(), options()};
  EchoServer() { server.add(echo); }

  static ServerOptions options() {
    ServerOptions options;
    options.connection_high_watermark = 1 << 20;
    return options;
  }

  // Sends a whole Echo request of `text` to be answered through `writer`.
  std::unique_ptr<http::RequestHandler> echo_call(RecordingWriter& writer, const std::string& text) {
    auto handler = server.on_request(echo_request(), writer);
    const std::string body = R"({"text":")" + text + R"("})";
    handler->on_body(http::as_bytes(body));
    handler->on_end();
    return handler;
  }
};

TEST(ServerBackpressure, ACallOnACongestedConnectionRunsOnlyOnceItDrains) {
  EchoServer s;
  auto& io = s.io;
  RecordingWriter writer;
  writer.connection_queued = 2 << 20;  // other streams' answers, not taken
  auto handler = s.echo_call(writer, "hello");
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(writer.heads.empty()) << "answered into a connection holding 2 MiB for a client that reads nothing";

  writer.connection_queued = 512 << 10;  // the client read some
  handler->on_drained();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  ASSERT_EQ(writer.heads.size(), 1U);
  EXPECT_EQ(writer.heads.front(), 200);
}

// Answers one Echo of `text` on an uncongested connection, then starts a
// second call on a connection holding 2 MiB: true when its head was sent.
bool second_call_answered_while_congested(const std::string& first_text) {
  EchoServer s;
  {
    RecordingWriter writer;
    auto handler = s.echo_call(writer, first_text);
    s.io.run_for(std::chrono::milliseconds(100));
    EXPECT_EQ(writer.heads.size(), 1U);
  }
  RecordingWriter writer;
  writer.connection_queued = 2 << 20;
  auto handler = s.echo_call(writer, "again");
  s.io.restart();
  s.io.run_for(std::chrono::milliseconds(200));
  return !writer.heads.empty();
}

// A proxy carries every client's calls on one connection: one client's
// unread large answers must not hold up another's small ones.
TEST(ServerBackpressure, AMethodKnownToAnswerSmallRunsOnACongestedConnection) {
  EXPECT_TRUE(second_call_answered_while_congested("hello"));
}

TEST(ServerBackpressure, AMethodThatAnsweredLargeStillWaits) {
  EXPECT_FALSE(second_call_answered_while_congested(std::string(64 * 1024, 'x')));
}

TEST(ServerBackpressure, AWaitingCallEndsAsCanceledWhenItsStreamGoes) {
  EchoServer s;
  auto& io = s.io;
  std::vector<Code> finished;
  s.server.on_call([&](const CallRecord& call) { finished.push_back(call.code); });

  RecordingWriter writer;
  writer.connection_queued = 64 << 20;
  auto handler = s.echo_call(writer, "hello");
  io.run_for(std::chrono::milliseconds(50));
  handler->on_reset();
  handler.reset();
  io.restart();
  io.run_for(std::chrono::milliseconds(200));
  EXPECT_TRUE(writer.heads.empty());
  ASSERT_EQ(finished.size(), 1U);
  EXPECT_EQ(finished.front(), Code::canceled);
}

}  // namespace
}  // namespace coral::rpc
