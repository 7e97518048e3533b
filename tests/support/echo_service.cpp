#include "echo_service.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace coral::testing {

namespace asio = boost::asio;

namespace {

rpc::Code code_or_invalid(const std::string& name) {
  return rpc::parse_code(name).value_or(rpc::Code::invalid_argument);
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor, duration);
  boost::system::error_code ec;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace

rpc::Awaitable<rpc::Result<v1::EchoResponse>> EchoService::Echo(rpc::Context& context, const v1::EchoRequest& request) {
  v1::EchoResponse response;
  response.set_text(request.text());
  response.set_number(request.number());
  response.set_payload(request.payload());
  response.mutable_tags()->CopyFrom(request.tags());
  response.set_protocol(std::string(rpc::to_string(context.protocol)));
  response.set_encoding(std::string(rpc::to_string(context.encoding)));
  response.set_http_version(std::string(http::to_string(context.request->version)));
  response.set_header_echo(std::string(http::find_field(context.request->fields, "x-test-echo").value_or("")));
  co_return response;
}

rpc::Awaitable<rpc::Result<v1::FailResponse>> EchoService::Fail(rpc::Context&, const v1::FailRequest& request) {
  const auto code = rpc::parse_code(request.code());
  if (!code) co_return rpc::fail(rpc::Code::invalid_argument, "unknown code name \"" + request.code() + "\"");
  co_return rpc::fail(*code, request.message());
}

rpc::Awaitable<rpc::Result<v1::SleepResponse>> EchoService::Sleep(rpc::Context&, const v1::SleepRequest& request) {
  co_await sleep_for(std::chrono::milliseconds(request.millis()));
  v1::SleepResponse response;
  response.set_slept_millis(request.millis());
  co_return response;
}

rpc::Awaitable<rpc::Status> EchoService::Count(rpc::Context&, const v1::CountRequest& request,
                                               rpc::ServerWriter<v1::CountResponse>& writer) {
  v1::CountResponse message;
  message.set_payload(std::string(request.payload_bytes(), 'x'));
  for (std::uint32_t i = 0; i < request.count(); ++i) {
    if (i > 0 && request.interval_millis() > 0) co_await sleep_for(std::chrono::milliseconds(request.interval_millis()));
    message.set_index(i);
    if (auto sent = co_await writer.send(message); !sent) co_return sent;
  }
  if (!request.fail_code().empty()) {
    co_return rpc::fail(code_or_invalid(request.fail_code()), "count failed: " + request.fail_code());
  }
  co_return rpc::Status{};
}

}  // namespace coral::testing
