// rpc::Server against a stream that goes away between a complete request
// and the first step of the handler's coroutine (a client cancelling in
// flight, as h2load and proxies do at the end of a run): the call must stay
// alive until its coroutine is done with it. Under ASan, a regression is a
// heap-use-after-free here.

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

TEST(ServerLifetime, ACallWhoseStreamClosesBeforeItsCoroutineRunsEndsAsCanceled) {
  boost::asio::io_context io;
  testing::EchoService echo;
  Server server(io.get_executor());
  server.add(echo);
  std::vector<Code> finished;
  server.on_call([&](const CallRecord& call) { finished.push_back(call.code); });

  RecordingWriter writer;
  auto handler = server.on_request(echo_request(), writer);
  const std::string body = R"({"text":"hello"})";
  handler->on_body(http::as_bytes(body));
  handler->on_end();  // complete: the call's coroutine is spawned, not yet run
  handler->on_reset();
  handler.reset();  // the codec destroys the handler after a reset

  io.run_for(std::chrono::seconds(5));
  EXPECT_TRUE(writer.heads.empty()) << "nothing may be written to a closed stream";
  ASSERT_EQ(finished.size(), 1U);
  EXPECT_EQ(finished.front(), Code::canceled);
}

TEST(ServerLifetime, TheSameCallAnswersWhenTheStreamStaysOpen) {
  boost::asio::io_context io;
  testing::EchoService echo;
  Server server(io.get_executor());
  server.add(echo);

  RecordingWriter writer;
  auto handler = server.on_request(echo_request(), writer);
  const std::string body = R"({"text":"hello"})";
  handler->on_body(http::as_bytes(body));
  handler->on_end();
  io.run_for(std::chrono::seconds(5));
  ASSERT_EQ(writer.heads.size(), 1U);
  EXPECT_EQ(writer.heads.front(), 200);
  EXPECT_GE(writer.data, 1);
}

}  // namespace
}  // namespace coral::rpc
