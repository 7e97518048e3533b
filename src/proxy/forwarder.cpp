#include "proxy/forwarder.h"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>

#include "base/text.h"
#include "http/h1_fields.h"
#include "http/h1_serialize.h"
#include "rpc/error_response.h"

namespace coral::proxy {

namespace asio = boost::asio;

void remove_hop_by_hop(http::Fields& fields) {
  std::vector<std::string> named;  // fields the Connection header lists
  for (const auto& field : fields) {
    if (field.name != "connection") continue;
    http::h1::for_each_token(field.value, [&](std::string_view token) {
      named.push_back(base::to_lower(token));
      return true;
    });
  }
  std::erase_if(fields, [&](const http::Field& field) {
    const std::string& name = field.name;
    if (name == "te") return !http::iequals(field.value, "trailers");  // gRPC needs "te: trailers"
    return name == "connection" || name == "keep-alive" || name == "proxy-connection" ||
           name == "transfer-encoding" || name == "upgrade" ||
           std::find(named.begin(), named.end(), name) != named.end();
  });
}

bool merge_content_length(http::Fields& fields) {
  std::optional<std::uint64_t> length;
  std::size_t count = 0;
  for (const auto& field : fields) {
    if (field.name != "content-length") continue;
    ++count;
    std::string_view rest = field.value;
    do {  // a list: "5, 5" (an empty value is not a number: refused)
      const auto comma = rest.find(',');
      const auto value = http::h1::parse_content_length(rest.substr(0, comma));
      if (!value || (length && *length != *value)) return false;
      length = value;
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (comma != std::string_view::npos && rest.empty()) return false;  // "5,"
    } while (!rest.empty());
  }
  if (count == 0) return true;
  std::erase_if(fields, [](const http::Field& field) { return field.name == "content-length"; });
  fields.push_back({"content-length", std::to_string(*length)});
  return true;
}

namespace {

// Answers requests the proxy handles itself; their bodies are not needed.
class DiscardBody final : public http::RequestHandler {
 public:
  void on_body(http::Bytes) override {}
  void on_end() override {}
  void on_reset() override {}
};

void respond_json(http::ResponseWriter& writer, int status, const std::string& body) {
  writer.send_head(http::ResponseHead{status,
                                      {{"content-type", "application/json"},
                                       {"content-length", std::to_string(body.size())},
                                       {"cache-control", "no-store"}}},
                   false);
  writer.send_data(http::as_bytes(body), true);
}

}  // namespace

struct ForwarderState {
  asio::any_io_executor executor;
  std::vector<Upstream> upstreams;
  std::vector<std::unique_ptr<http::Client>> clients;  // one per upstream
  std::function<std::string()> health_json;
  Router router;
  ForwarderStats stats;
  ForwarderOptions options;

  std::vector<std::string> upstream_errors;

  ForwarderState(asio::any_io_executor executor_, std::vector<Upstream> upstreams_,
                 std::function<std::string()> health, ForwarderOptions options_)
      : executor(std::move(executor_)),
        upstreams(std::move(upstreams_)),
        health_json(std::move(health)),
        router([&] {
          std::vector<std::string> ids;
          for (const auto& upstream : upstreams) ids.push_back(upstream.colony_id);
          return ids;
        }()) {
    options = options_;
    for (const auto& upstream : upstreams) {
      clients.push_back(std::make_unique<http::Client>(
          executor, http::ClientOptions{.version = http::Version::http2,
                                        .connect_timeout = std::chrono::seconds(5),
                                        .dialer = upstream.dialer}));
    }
    upstream_errors.resize(upstreams.size());
  }
};

namespace {

// One request on its way through: what the downstream (client) side and the
// upstream (colony) side share. Either side may go first or go away.
struct Exchange final : std::enable_shared_from_this<Exchange> {
  std::shared_ptr<ForwarderState> forwarder;
  std::size_t index;
  const Upstream& upstream;
  std::string content_type;            // of the request: how to word an error
  http::ResponseWriter* downstream;    // null once the client side is gone
  http::RequestWriter* upstream_writer = nullptr;
  bool starting = true;                // the upstream request is being opened
  bool upstream_finished = false;      // on_end / on_reset came
  std::string pending_body;            // arrived while starting
  bool request_done = false;
  std::optional<http::ResponseHead> held_head;  // sent with the first body, trailers or end
  bool head_sent = false;
  bool trailers_sent = false;
  bool body_paused = false;            // the downstream body is paused (pause_body)
  bool response_paused = false;        // the upstream response is paused (pause_response)
  std::unique_ptr<asio::steady_timer> stall_timer;  // armed while response_paused

  Exchange(std::shared_ptr<ForwarderState> owner, std::size_t upstream_index, std::string type,
           http::ResponseWriter& writer)
      : forwarder(std::move(owner)),
        index(upstream_index),
        upstream(forwarder->upstreams[upstream_index]),
        content_type(std::move(type)),
        downstream(&writer) {
    ++forwarder->stats.active;
  }
  ~Exchange() { --forwarder->stats.active; }

  bool upstream_open() const { return upstream_writer != nullptr && !upstream_finished; }

  void fail(rpc::Code code, const std::string& message) {
    if (!downstream) return;  // the client left first: nobody to answer (counted as canceled)
    ++forwarder->stats.failed;
    if (head_sent) return downstream->reset();
    http::RequestHead request;
    request.fields.push_back({"content-type", content_type});
    rpc::write_error_response(*downstream, request, rpc::Error{code, message, {}});
    head_sent = true;
  }

  void flush_head(bool end_stream) {
    if (head_sent || !held_head || !downstream) return;
    head_sent = true;
    downstream->send_head(std::move(*held_head), end_stream);
  }

  // Bytes of this request's body the proxy holds: queued for the colony,
  // or waiting for the colony connection.
  std::size_t held_body() const {
    return pending_body.size() + (upstream_open() ? upstream_writer->queued_bytes() : 0);
  }
  // Pauses the client's body above the watermark, resumes it once drained.
  void update_backpressure() {
    if (!downstream) return;
    const std::size_t held = held_body();
    if (!body_paused && !request_done && held > kBodyHighWatermark) {
      body_paused = true;
      downstream->pause_body(true);
    } else if (body_paused && (held == 0 || request_done)) {
      body_paused = false;
      downstream->pause_body(false);
    }
  }

  // Client side.
  void on_request_body(http::Bytes chunk) {
    if (upstream_open()) {
      upstream_writer->send_data(chunk, false);
    } else if (starting) {
      pending_body.append(http::as_chars(chunk));
    }
    update_backpressure();
  }
  void on_request_end() {
    request_done = true;
    if (upstream_open()) upstream_writer->send_data({}, true);
    update_backpressure();
  }
  void on_downstream_gone() {
    if (!downstream) return;
    downstream = nullptr;
    if (!upstream_finished) ++forwarder->stats.canceled;
    pending_body.clear();
    if (upstream_open()) upstream_writer->reset();
  }

  // Colony side.
  void on_upstream_head(http::ResponseHead head) {
    forwarder->upstream_errors[index].clear();
    remove_hop_by_hop(head.fields);
    held_head = std::move(head);
  }
  void on_upstream_body(http::Bytes chunk) {
    flush_head(false);
    if (!downstream) return;
    downstream->send_data(chunk, false);
    if (!response_paused && upstream_open() && downstream->queued_bytes() > kResponseHighWatermark) {
      response_paused = true;
      upstream_writer->pause_response(true);
      arm_stall_timer();
    }
  }
  // The client read what was queued for it.
  void on_downstream_drained() {
    if (!response_paused || !upstream_open()) return;
    response_paused = false;
    if (stall_timer) stall_timer->cancel();
    upstream_writer->pause_response(false);
  }
  void arm_stall_timer() {
    const auto timeout = forwarder->options.stalled_reader_timeout;
    if (timeout.count() <= 0) return;
    if (!stall_timer) stall_timer = std::make_unique<asio::steady_timer>(forwarder->executor);
    stall_timer->expires_after(timeout);
    stall_timer->async_wait([weak = weak_from_this()](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_stalled();
    });
  }
  // The client read nothing of the paused response for the whole timeout.
  void on_stalled() {
    // Once the colony sent the whole answer it holds nothing for the stream.
    if (!response_paused || !upstream_open()) return;
    response_paused = false;
    ++forwarder->stats.stalled;
    // The colony drops what it holds for the stream; the client's stream is
    // reset (on_upstream_reset does it, or here when the colony was done).
    if (upstream_open()) upstream_writer->reset();
    if (downstream) downstream->reset();
  }
  void on_upstream_trailers(http::Fields trailers) {
    flush_head(false);
    remove_hop_by_hop(trailers);
    trailers_sent = true;
    if (downstream) downstream->send_trailers(std::move(trailers));
  }
  void on_upstream_end() {
    upstream_finished = true;
    update_backpressure();  // nothing is held any more
    if (!head_sent) return flush_head(true);  // e.g. gRPC Trailers-Only
    if (!trailers_sent && downstream) downstream->send_data({}, true);
  }
  void on_upstream_drained() { update_backpressure(); }
  void on_upstream_reset(const std::string& reason) {
    upstream_finished = true;
    update_backpressure();
    fail(rpc::Code::unavailable,
         "colony " + upstream.colony_id + " at " + upstream.target.authority() + " reset the call: " + reason);
  }

  // `self` is a parameter so that the exchange lives from the spawn on: the
  // client may go away before the coroutine's first step runs.
  asio::awaitable<void> start(std::shared_ptr<Exchange> self, http::RequestHead head);
};

class DownstreamSide final : public http::RequestHandler {
 public:
  explicit DownstreamSide(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  ~DownstreamSide() override { exchange_->on_downstream_gone(); }
  void on_body(http::Bytes chunk) override { exchange_->on_request_body(chunk); }
  void on_end() override { exchange_->on_request_end(); }
  void on_reset() override { exchange_->on_downstream_gone(); }
  void on_drained() override { exchange_->on_downstream_drained(); }

 private:
  std::shared_ptr<Exchange> exchange_;
};

class UpstreamSide final : public http::ResponseHandler {
 public:
  explicit UpstreamSide(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  void on_head(http::ResponseHead head) override { exchange_->on_upstream_head(std::move(head)); }
  void on_body(http::Bytes chunk) override { exchange_->on_upstream_body(chunk); }
  void on_trailers(http::Fields trailers) override { exchange_->on_upstream_trailers(std::move(trailers)); }
  void on_end() override { exchange_->on_upstream_end(); }
  void on_reset(std::string reason) override { exchange_->on_upstream_reset(reason); }
  void on_drained() override { exchange_->on_upstream_drained(); }

 private:
  std::shared_ptr<Exchange> exchange_;
};

std::string lower_first(std::string text) {
  if (!text.empty() && text[0] >= 'A' && text[0] <= 'Z') text[0] = char(text[0] - 'A' + 'a');
  return text;
}

asio::awaitable<void> Exchange::start(std::shared_ptr<Exchange> self, http::RequestHead head) {
  auto handler = std::make_shared<UpstreamSide>(self);
  const net::Target target = upstream.target;
  auto writer = co_await forwarder->clients[index]->start(target, std::move(head), false, handler);
  starting = false;
  if (!writer) {
    upstream_finished = true;
    forwarder->upstream_errors[index] = lower_first(writer.error());
    fail(rpc::Code::unavailable, "colony " + upstream.colony_id + " is not reachable at " + target.authority() + ": " +
                                     lower_first(writer.error()));
    co_return;
  }
  if (upstream_finished) co_return;
  upstream_writer = *writer;
  if (!downstream) {
    upstream_writer->reset();
    co_return;
  }
  if (!pending_body.empty()) {
    const std::string body = std::move(pending_body);
    pending_body.clear();
    upstream_writer->send_data(http::as_bytes(body), false);
  }
  if (request_done && upstream_open()) upstream_writer->send_data({}, true);
  update_backpressure();
}

}  // namespace

Forwarder::Forwarder(asio::any_io_executor executor, std::vector<Upstream> upstreams,
                     std::function<std::string()> health_json, ForwarderOptions options)
    : impl_(std::make_shared<ForwarderState>(std::move(executor), std::move(upstreams), std::move(health_json),
                                             options)) {}

const std::string& Forwarder::upstream_error(std::size_t index) const { return impl_->upstream_errors.at(index); }

Forwarder::~Forwarder() { close(); }

const ForwarderStats& Forwarder::stats() const { return impl_->stats; }
const std::vector<Upstream>& Forwarder::upstreams() const { return impl_->upstreams; }

void Forwarder::close() {
  for (auto& client : impl_->clients) client->close();
}

std::unique_ptr<http::RequestHandler> Forwarder::on_request(http::RequestHead head, http::ResponseWriter& writer) {
  if (is_proxy_path(head.path)) {
    const std::string_view path = std::string_view(head.path).substr(0, head.path.find('?'));
    if (path == kHealthPath) {
      respond_json(writer, 200, impl_->health_json ? impl_->health_json() : "{}");
    } else {
      respond_json(writer, 404, "{\"code\":\"not_found\",\"message\":\"no such proxy endpoint; try " +
                                    std::string(kHealthPath) + "\"}");
    }
    return std::make_unique<DiscardBody>();
  }
  if (head.method == "CONNECT") {  // a reverse proxy: it forwards requests, it does not open tunnels
    respond_json(writer, 501, "{\"code\":\"unimplemented\",\"message\":\"the coral proxy does not tunnel (CONNECT)\"}");
    return std::make_unique<DiscardBody>();
  }
  ++impl_->stats.requests;
  if (!merge_content_length(head.fields)) {
    // The downstream codecs refuse this already; never forward it.
    ++impl_->stats.failed;
    respond_json(writer, 400, "{\"code\":\"invalid_argument\",\"message\":\"conflicting content-length values\"}");
    return std::make_unique<DiscardBody>();
  }
  const std::string content_type(http::find_field(head.fields, "content-type").value_or(""));
  auto route = impl_->router.route(head);
  if (!route) {
    ++impl_->stats.failed;
    rpc::write_error_response(writer, head, rpc::Error{rpc::Code::not_found, route.error(), {}});
    return std::make_unique<DiscardBody>();
  }
  const Upstream& upstream = impl_->upstreams[route->colony];
  auto exchange = std::make_shared<Exchange>(impl_, route->colony, content_type, writer);

  http::RequestHead forwarded;
  forwarded.method = std::move(head.method);
  forwarded.path = std::move(route->path);
  forwarded.authority = upstream.target.authority();
  forwarded.fields = std::move(head.fields);
  remove_hop_by_hop(forwarded.fields);
  std::erase_if(forwarded.fields, [](const http::Field& field) { return field.name == kColonyIdHeader; });
  // The proxy may not reach this colony at all (revoked, refused): it
  // answers itself, and nothing is dialled.
  if (upstream.refusal) {
    if (auto refused = upstream.refusal()) {
      exchange->starting = false;
      exchange->upstream_finished = true;
      impl_->upstream_errors[route->colony] = refused->message;
      exchange->fail(refused->code, refused->message);
      return std::make_unique<DownstreamSide>(std::move(exchange));
    }
  }
  // A colony connection that can take the request now: no coroutine needed.
  std::shared_ptr<http::ResponseHandler> upstream_side = std::make_shared<UpstreamSide>(exchange);
  if (http::RequestWriter* writer =
          impl_->clients[route->colony]->try_start(upstream.target, forwarded, false, upstream_side)) {
    exchange->starting = false;
    exchange->upstream_writer = writer;
  } else {
    asio::co_spawn(impl_->executor, exchange->start(exchange, std::move(forwarded)), asio::detached);
  }
  return std::make_unique<DownstreamSide>(std::move(exchange));
}

}  // namespace coral::proxy
