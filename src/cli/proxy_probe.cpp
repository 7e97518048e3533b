#include "cli/proxy_probe.h"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "base/address.h"
#include "http/client.h"
#include "proxy/health.h"
#include "proxy/router.h"

namespace coral::cli {

namespace asio = boost::asio;

const proxy::v1::ColonyHealth* ProxyHealth::find(const std::string& colony_id) const {
  for (const auto& colony : colonies) {
    if (colony.colony_id() == colony_id) return &colony;
  }
  return nullptr;
}

std::string ProxyHealth::colony_status(const std::string& colony_id) const {
  const auto* colony = find(colony_id);
  return colony ? colony->status() : "not served";
}

bool ProxyHealth::serves(const std::string& colony_id) const { return colony_status(colony_id) != "not served"; }

namespace {

struct Collect final : http::ResponseHandler {
  explicit Collect(asio::any_io_executor executor) : done(executor, asio::steady_timer::time_point::max()) {}
  void on_head(http::ResponseHead head) override { status = head.status; }
  void on_body(http::Bytes chunk) override {
    if (body.size() < 1 << 20) body.append(http::as_chars(chunk));
  }
  void on_trailers(http::Fields) override {}
  void on_end() override {
    ended = true;
    done.cancel();
  }
  void on_reset(std::string why) override {
    failure = std::move(why);
    ended = true;
    done.cancel();
  }
  asio::steady_timer done;
  int status = 0;
  std::string body;
  std::string failure;
  bool ended = false;
};

std::expected<ProxyHealth, std::string> parse_health(const std::string& body) {
  auto document = proxy::read_health_json(body);
  if (!document) return std::unexpected("its health endpoint did not answer JSON");
  ProxyHealth health;
  health.pid = document->pid();
  health.uptime_seconds = document->uptime_seconds();
  health.requests = static_cast<long long>(document->requests());
  health.failed = static_cast<long long>(document->failed());
  health.colonies.assign(document->colonies().begin(), document->colonies().end());
  return health;
}

}  // namespace

asio::awaitable<std::expected<ProxyHealth, std::string>> fetch_proxy_health(std::string listen) {
  auto address = base::parse_host_port(listen);
  if (!address) co_return std::unexpected("\"" + listen + "\": " + address.error());
  auto executor = co_await asio::this_coro::executor;
  http::Client client(executor, http::ClientOptions{.version = http::Version::http1_1,
                                                    .connect_timeout = std::chrono::seconds(2),
                                                    .dialer = {}});
  http::RequestHead head;
  head.method = "GET";
  head.path = std::string(proxy::kHealthPath);
  head.authority = listen;
  auto collect = std::make_shared<Collect>(executor);
  const net::Target target{address->host, address->port};
  auto started = co_await client.start(target, std::move(head), true, collect);
  if (!started) co_return std::unexpected(started.error());
  asio::steady_timer deadline(executor, std::chrono::seconds(3));
  deadline.async_wait([collect](boost::system::error_code ec) {
    if (!ec) collect->done.cancel();
  });
  boost::system::error_code ec;
  if (!collect->ended) co_await collect->done.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  deadline.cancel();
  client.close();
  if (!collect->ended) co_return std::unexpected("no answer within 3 s");
  if (!collect->failure.empty()) co_return std::unexpected(collect->failure);
  if (collect->status != 200) co_return std::unexpected("not a coral proxy (HTTP " + std::to_string(collect->status) + ")");
  co_return parse_health(collect->body);
}

}  // namespace coral::cli
