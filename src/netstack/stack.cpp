#include "netstack/stack.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "net/error.h"
#include "netstack/core.h"

extern "C" {
#include "lwip/ip.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"
}

namespace coral::netstack {

namespace asio = boost::asio;
using detail::Core;
using detail::to_error_code;

namespace {

// The retransmission timeout never goes below Linux's floor, in lwIP's
// slow-timer ticks: a peer that delays its ACKs (Linux: up to 40 ms) is not
// retransmitted to while the ACK is on its way.
constexpr s16_t kMinRtoTicks = 200 / (2 * TCP_TMR_INTERVAL);

// Zeroed bytes after each packet handed to lwIP (Impl::input).
constexpr std::size_t kInputSlack = 16;

void clamp_rto(tcp_pcb* pcb) {
  if (pcb != nullptr && pcb->rto < kMinRtoTicks) pcb->rto = kMinRtoTicks;
}

std::error_code eof_error() { return std::error_code(boost::system::error_code(asio::error::eof)); }
std::error_code aborted_error() { return std::make_error_code(std::errc::operation_canceled); }

// An lwIP address from an IP literal; nullopt when `text` is not one.
std::optional<ip_addr_t> parse_address(const std::string& text) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(text, ec);
  if (ec) return std::nullopt;
  ip_addr_t out{};
  if (address.is_v4()) {
    const auto bytes = address.to_v4().to_bytes();
    IP_ADDR4(&out, bytes[0], bytes[1], bytes[2], bytes[3]);
  } else {
    const auto bytes = address.to_v6().to_bytes();
    IP_SET_TYPE_VAL(out, IPADDR_TYPE_V6);
    std::memcpy(ip_2_ip6(&out)->addr, bytes.data(), 16);
    ip6_addr_clear_zone(ip_2_ip6(&out));
  }
  return out;
}

std::string format_address(const ip_addr_t& address) {
  if (IP_IS_V6_VAL(address)) {
    asio::ip::address_v6::bytes_type bytes{};
    std::memcpy(bytes.data(), ip_2_ip6(&address)->addr, 16);
    return asio::ip::address_v6(bytes).to_string();
  }
  asio::ip::address_v4::bytes_type bytes{};
  std::memcpy(bytes.data(), &ip_2_ip4(&address)->addr, 4);
  return asio::ip::address_v4(bytes).to_string();
}

// A peer's key in the per-peer counts: its address's bytes.
std::string peer_key(const ip_addr_t& address) {
  if (IP_IS_V6_VAL(address)) return std::string(reinterpret_cast<const char*>(ip_2_ip6(&address)->addr), 16);
  return std::string(reinterpret_cast<const char*>(&ip_2_ip4(&address)->addr), 4);
}

// Whether a packet passes restrict_link_local(`port`): only IPv6 from a
// link-local source (fe80::/10) is looked at, and of that only TCP with no
// extension headers to `port` passes. Short packets are lwIP's to drop.
bool passes_link_local_restriction(std::span<const std::uint8_t> b, std::uint16_t port) {
  if (b.size() < 40 || (b[0] >> 4) != 6) return true;
  const bool link_local_source = b[8] == 0xfe && (b[9] & 0xc0) == 0x80;
  if (!link_local_source) return true;
  if (b[6] != IP6_NEXTH_TCP || b.size() < 40 + 20) return false;
  const auto destination_port = static_cast<std::uint16_t>((b[42] << 8) | b[43]);
  return destination_port == port;
}

// Counts shared by a stack and the trackers on its connections' PCBs
// (which may outlive the stack: TIME_WAIT).
struct Accounting {
  struct Counts {
    std::size_t half_open = 0;
    std::size_t connections = 0;
    std::size_t buffered = 0;
  };
  StackLimits limits;
  Counts total;
  std::unordered_map<std::string, Counts> peers;
  std::uint64_t connections_refused = 0;
  std::uint64_t half_open_refused = 0;
  std::uint64_t receive_deferred = 0;

  Counts& peer(const std::string& key) { return peers[key]; }
  void forget_if_idle(const std::string& key) {
    const auto it = peers.find(key);
    if (it != peers.end() && it->second.half_open == 0 && it->second.connections == 0 && it->second.buffered == 0)
      peers.erase(it);
  }
};

// Rides on a PCB (lwIP's ext args) from its SYN, or its dial, until lwIP
// frees it: what it counts for.
struct Tracker {
  std::shared_ptr<Accounting> accounting;
  std::string peer;
  bool established = false;

  void establish() {
    if (established) return;
    established = true;
    auto& peer_counts = accounting->peer(peer);
    --accounting->total.half_open;
    --peer_counts.half_open;
    ++accounting->total.connections;
    ++peer_counts.connections;
  }
};

u8_t ext_arg_id() {
  static const u8_t id = tcp_ext_arg_alloc_id();
  return id;
}

void tracker_destroyed(u8_t, void* data) {
  std::unique_ptr<Tracker> tracker(static_cast<Tracker*>(data));
  if (!tracker) return;
  auto& accounting = *tracker->accounting;
  auto& peer_counts = accounting.peer(tracker->peer);
  if (tracker->established) {
    --accounting.total.connections;
    --peer_counts.connections;
  } else {
    --accounting.total.half_open;
    --peer_counts.half_open;
  }
  accounting.forget_if_idle(tracker->peer);
}

const tcp_ext_arg_callbacks tracker_callbacks = {tracker_destroyed, nullptr};

Tracker* tracker_of(tcp_pcb* pcb) { return static_cast<Tracker*>(tcp_ext_arg_get(pcb, ext_arg_id())); }

void attach_tracker(tcp_pcb* pcb, const std::shared_ptr<Accounting>& accounting, bool established) {
  auto tracker = std::make_unique<Tracker>(Tracker{accounting, peer_key(pcb->remote_ip), established});
  auto& peer_counts = accounting->peer(tracker->peer);
  if (established) {
    ++accounting->total.connections;
    ++peer_counts.connections;
  } else {
    ++accounting->total.half_open;
    ++peer_counts.half_open;
  }
  tcp_ext_arg_set_callbacks(pcb, ext_arg_id(), &tracker_callbacks);
  tcp_ext_arg_set(pcb, ext_arg_id(), tracker.release());
}

// A PCB after its stream closed: lwIP finishes the close (FIN, TIME_WAIT);
// the retransmission floor still applies.
err_t orphan_sent(void*, tcp_pcb* pcb, u16_t) {
  clamp_rto(pcb);
  return ERR_OK;
}

}  // namespace

class Connection;
class ListenState;

struct Stack::Impl final : Core::Sink, std::enable_shared_from_this<Stack::Impl> {
  std::shared_ptr<Core> core;
  StackOptions options;
  netif interface{};
  bool added = false;
  bool closed = false;
  Output output;
  std::vector<pbuf*> pending;
  std::shared_ptr<Accounting> accounting = std::make_shared<Accounting>();
  std::unordered_set<Connection*> connections;
  std::unordered_set<ListenState*> listeners;
  std::optional<ip_addr_t> ipv4;
  std::optional<ip_addr_t> ipv6;
  // In the interface's second IPv6 slot, with the interface's zone (lwIP
  // compares link-local addresses with their zones).
  std::optional<ip_addr_t> link_local;
  std::uint16_t link_local_tcp_port = 0;  // restrict_link_local(); 0: none
  std::uint64_t restricted_dropped = 0;
  std::uint64_t packets_in = 0, packets_out = 0, bytes_in = 0, bytes_out = 0, packets_dropped = 0;
  // Retransmissions, counted from what leaves (lwIP 2.1 keeps no such
  // counter outside MIB2): per connection (remote address, ports) the end
  // of the sequence space sent so far; a segment that ends at or before it
  // was sent before. The map is cleared when it grows large (a few counts
  // may be lost then).
  std::uint64_t retransmits = 0;
  std::unordered_map<std::uint64_t, std::uint32_t> sent_end;

  void count_retransmit(const pbuf* p) {
    const auto* b = static_cast<const std::uint8_t*>(p->payload);
    const std::size_t len = p->len;  // lwIP builds the IP and TCP headers in the first pbuf
    if (len < 20) return;
    std::size_t ip_header = 0;
    std::uint64_t key = 0;
    if ((b[0] >> 4) == 4) {
      if (b[9] != IP_PROTO_TCP) return;
      ip_header = std::size_t(b[0] & 0x0f) * 4;
      for (int i = 16; i < 20; ++i) key = key * 1099511628211ULL + b[i];
    } else {
      if (len < 40 || b[6] != IP6_NEXTH_TCP) return;
      ip_header = 40;
      for (int i = 24; i < 40; ++i) key = key * 1099511628211ULL + b[i];
    }
    if (len < ip_header + 20) return;
    const std::uint8_t* t = b + ip_header;
    const std::size_t tcp_header = std::size_t(t[12] >> 4) * 4;
    if (p->tot_len < ip_header + tcp_header) return;
    const std::uint8_t flags = t[13];
    const std::uint32_t length = std::uint32_t(p->tot_len - ip_header - tcp_header) + ((flags & TCP_SYN) ? 1 : 0) +
                                 ((flags & TCP_FIN) ? 1 : 0);
    if (length == 0) return;
    const std::uint32_t seq =
        (std::uint32_t(t[4]) << 24) | (std::uint32_t(t[5]) << 16) | (std::uint32_t(t[6]) << 8) | t[7];
    key = key * 1099511628211ULL + ((std::uint64_t(t[0]) << 24) | (std::uint64_t(t[1]) << 16) | (t[2] << 8) | t[3]);
    const std::uint32_t end = seq + length;
    auto [it, inserted] = sent_end.try_emplace(key, end);
    if (inserted) {
      if (sent_end.size() > 4096) sent_end.clear();
    } else if (std::int32_t(end - it->second) <= 0) {
      ++retransmits;
    } else {
      it->second = end;
    }
  }

  ~Impl() { close(); }

  // Connections with data written since the last flush: their segments
  // leave when the batch's packets do (write() corks, flush() pushes), so
  // that writes made in one turn of the event loop share segments.
  std::vector<Connection*> corked;

  void flush() override;

  void send_pending() {
    if (pending.empty()) return;
    coalesce_acks();
    std::vector<Packet> packets;
    packets.reserve(pending.size());
    for (pbuf* p : pending) packets.emplace_back(static_cast<const std::uint8_t*>(p->payload), p->len);
    auto batch = std::move(pending);
    pending.clear();
    if (output && !closed) {
      packets_out += packets.size();
      for (const auto& packet : packets) bytes_out += packet.size();
      output(packets);
    }
    for (pbuf* p : batch) pbuf_free(p);
  }

  // A pure ACK followed in the same batch by a packet of the same
  // connection that acknowledges more says nothing that one does not: it is
  // dropped (duplicate ACKs, with the same number, all stay: they are the
  // peer's fast-retransmit signal). lwIP acknowledges every second segment
  // it takes; a batch of input or a window update after a read would
  // otherwise send several.
  void coalesce_acks();

  err_t emit(pbuf* p) {
    if (closed || !output) return ERR_OK;  // as a link that is down: lwIP retransmits
    count_retransmit(p);
    if (p->next != nullptr) {
      pbuf* flat = pbuf_clone(PBUF_RAW, PBUF_RAM, p);
      if (flat == nullptr) return ERR_MEM;
      pending.push_back(flat);
    } else {
      pbuf_ref(p);
      pending.push_back(p);
    }
    core->queue(this);
    return ERR_OK;
  }

  void input(std::span<const Packet> packets) {
    if (closed) return;
    // What the input makes lwIP emit (ACKs, resets, echo replies) leaves
    // from a fresh handler: the caller (the WireGuard device) is in the
    // middle of its own output when it hands packets in.
    Core::Batch batch(*core, Core::Batch::Flush::deferred);
    for (const Packet& packet : packets) {
      ++packets_in;
      bytes_in += packet.size();
      if (packet.size() < 20 || packet.size() > 0xffff - kInputSlack) {
        ++packets_dropped;
        continue;
      }
      if (link_local_tcp_port != 0 && !passes_link_local_restriction(packet, link_local_tcp_port)) {
        ++restricted_dropped;
        continue;
      }
      // lwIP 2.1.3's TCP option parser reads a byte past the options when
      // the last one is cut short (found by netstack_input_fuzz): the
      // packet's pbuf carries zeroed slack after it, which lwIP never sees
      // as data.
      pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet.size() + kInputSlack), PBUF_RAM);
      if (p == nullptr) {
        ++packets_dropped;
        continue;
      }
      std::memcpy(p->payload, packet.data(), packet.size());
      std::memset(static_cast<std::uint8_t*>(p->payload) + packet.size(), 0, kInputSlack);
      p->len = p->tot_len = static_cast<u16_t>(packet.size());
      if (interface.input(p, &interface) != ERR_OK) {
        ++packets_dropped;
        pbuf_free(p);
      }
      if (closed) return;
    }
  }

  std::error_code apply_addresses(const std::string& v4, const std::string& v6);
  std::error_code apply_link_local(const std::string& address);
  // The stack's own copy of `address` (the link-local one zoned), if it is
  // one of its addresses.
  std::optional<ip_addr_t> own_address(const ip_addr_t& address) const;
  void close();
};

namespace {

err_t output4(netif* interface, pbuf* p, const ip4_addr_t*) {
  return static_cast<Stack::Impl*>(interface->state)->emit(p);
}

err_t output6(netif* interface, pbuf* p, const ip6_addr_t*) {
  return static_cast<Stack::Impl*>(interface->state)->emit(p);
}

err_t interface_init(netif* interface) {
  auto* impl = static_cast<Stack::Impl*>(interface->state);
  interface->name[0] = 'm';
  interface->name[1] = 'w';
  interface->mtu = static_cast<u16_t>(impl->options.mtu);
  interface->output = output4;
  interface->output_ip6 = output6;
  interface->flags = 0;
  return ERR_OK;
}

}  // namespace

// One TCP connection: lwIP's PCB and what the application has not read yet.
// Lives while its stream does, or while a coroutine waits on it.
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<Stack::Impl> stack, tcp_pcb* pcb)
      : stack_(std::move(stack)), pcb_(pcb), waker_(stack_->core->io()) {
    waker_.expires_at(asio::steady_timer::time_point::max());
    remote_ = net::format_authority(format_address(pcb->remote_ip), pcb->remote_port);
    stack_->connections.insert(this);
    tcp_arg(pcb_, this);
    tcp_recv(pcb_, &Connection::on_recv);
    tcp_sent(pcb_, &Connection::on_sent);
    tcp_err(pcb_, &Connection::on_error);
    tcp_nagle_disable(pcb_);
  }

  ~Connection() {
    close();
    uncork();
    stack_->connections.erase(this);
  }

  // Sends what write() queued: called by the stack's flush.
  void push() {
    corked_ = false;
    if (pcb_ != nullptr) tcp_output(pcb_);
  }

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& remote() const { return remote_; }
  tcp_pcb* pcb() const { return pcb_; }

  // Waits until woken (data, space, an error, a close).
  net::Awaitable<void> wait() {
    boost::system::error_code ignored;
    co_await waker_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
  void wake() { waker_.cancel(); }

  net::Awaitable<std::expected<void, std::error_code>> connect(const ip_addr_t& remote, std::uint16_t port,
                                                               std::chrono::milliseconds timeout) {
    auto self = shared_from_this();
    {
      Core::Batch batch(*stack_->core);
      remote_ = net::format_authority(format_address(remote), port);
      const err_t started = tcp_connect(pcb_, &remote, port, &Connection::on_connected);
      if (started != ERR_OK) {
        fail(to_error_code(started));
        co_return std::unexpected(error_);
      }
    }
    asio::steady_timer deadline(stack_->core->io());
    deadline.expires_after(timeout);
    bool timed_out = false;
    deadline.async_wait([&timed_out, self](boost::system::error_code error) {
      if (error) return;
      timed_out = true;
      self->wake();
    });
    while (!connected_ && !error_ && !timed_out && !closed_) co_await wait();
    deadline.cancel();
    if (connected_) co_return std::expected<void, std::error_code>{};
    if (timed_out && !error_) {
      abort();
      co_return std::unexpected(std::error_code(net::Errc::connect_timed_out));
    }
    // A reset in answer to the SYN: nothing listens there.
    if (error_ == std::errc::connection_reset) co_return std::unexpected(std::make_error_code(std::errc::connection_refused));
    co_return std::unexpected(error_ ? error_ : aborted_error());
  }

  net::Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte> buffer) {
    auto self = shared_from_this();
    while (true) {
      if (closed_) co_return std::unexpected(aborted_error());
      if (!received_.empty()) break;
      if (eof_) co_return std::unexpected(eof_error());
      if (error_) co_return std::unexpected(error_);
      if (buffer.empty()) co_return std::size_t{0};
      co_await wait();
    }
    std::size_t copied = 0;
    while (copied < buffer.size() && !received_.empty()) {
      pbuf* front = received_.front();
      const std::size_t n = std::min<std::size_t>(buffer.size() - copied, front->tot_len - offset_);
      pbuf_copy_partial(front, buffer.data() + copied, static_cast<u16_t>(n), static_cast<u16_t>(offset_));
      copied += n;
      offset_ += n;
      if (offset_ == front->tot_len) {
        pbuf_free(front);
        received_.pop_front();
        offset_ = 0;
      }
    }
    consumed(copied);
    co_return copied;
  }

  net::Awaitable<std::error_code> write(std::span<const std::byte> data) {
    auto self = shared_from_this();
    while (!data.empty()) {
      if (closed_) co_return aborted_error();
      if (error_) co_return error_;
      if (pcb_ == nullptr) co_return std::make_error_code(std::errc::not_connected);
      std::size_t room = tcp_sndbuf(pcb_);
      if (tcp_sndqueuelen(pcb_) >= TCP_SND_QUEUELEN) room = 0;
      if (room == 0) {
        co_await wait();
        continue;
      }
      Core::Batch batch(*stack_->core, Core::Batch::Flush::deferred);
      while (!data.empty() && pcb_ != nullptr) {
        const std::size_t n = std::min<std::size_t>({data.size(), room, 0xffff});
        if (n == 0) break;
        const u8_t flags = TCP_WRITE_FLAG_COPY | (n < data.size() ? TCP_WRITE_FLAG_MORE : 0);
        const err_t queued = tcp_write(pcb_, data.data(), static_cast<u16_t>(n), flags);
        if (queued == ERR_MEM) break;  // the send queue is full: send, then wait for ACKs
        if (queued != ERR_OK) {
          fail(to_error_code(queued));
          co_return error_;
        }
        data = data.subspan(n);
        room = tcp_sndbuf(pcb_);
      }
      if (pcb_ != nullptr) cork();
    }
    co_return std::error_code{};
  }

  // Closes both directions: unsent data still goes, then FIN; unread data
  // makes it a reset (as the kernel does).
  void close() {
    if (closed_) return;
    closed_ = true;
    release_received();
    if (pcb_ != nullptr) {
      Core::Batch batch(*stack_->core);
      tcp_pcb* pcb = detach();
      if (tcp_close(pcb) != ERR_OK) tcp_abort(pcb);
    }
    wake();
  }

  // Resets the connection.
  void abort() {
    closed_ = true;
    release_received();
    if (pcb_ != nullptr) {
      Core::Batch batch(*stack_->core);
      tcp_abort(detach());
    }
    wake();
  }

  static err_t on_connected(void* arg, tcp_pcb* pcb, err_t) {
    auto* self = static_cast<Connection*>(arg);
    clamp_rto(pcb);
    self->connected_ = true;
    self->wake();
    return ERR_OK;
  }

 private:
  static err_t on_recv(void* arg, tcp_pcb*, pbuf* p, err_t) {
    auto* self = static_cast<Connection*>(arg);
    if (p == nullptr) {
      self->eof_ = true;
      self->wake();
      return ERR_OK;
    }
    auto& accounting = *self->stack_->accounting;
    auto& peer_counts = accounting.peer(self->peer_);
    if (accounting.total.buffered + p->tot_len > accounting.limits.max_buffered_bytes ||
        peer_counts.buffered + p->tot_len > accounting.limits.max_buffered_bytes_per_peer) {
      // lwIP keeps the data and offers it again on its next tick; the
      // window does not open meanwhile.
      ++accounting.receive_deferred;
      return ERR_MEM;
    }
    accounting.total.buffered += p->tot_len;
    peer_counts.buffered += p->tot_len;
    self->buffered_ += p->tot_len;
    self->received_.push_back(p);
    self->wake();
    return ERR_OK;
  }

  static err_t on_sent(void* arg, tcp_pcb* pcb, u16_t) {
    clamp_rto(pcb);
    static_cast<Connection*>(arg)->wake();
    return ERR_OK;
  }

  static void on_error(void* arg, err_t error) {
    // lwIP has freed the PCB.
    auto* self = static_cast<Connection*>(arg);
    self->pcb_ = nullptr;
    self->fail(to_error_code(error));
  }

  void cork() {
    if (!corked_) {
      corked_ = true;
      stack_->corked.push_back(this);
    }
    stack_->core->queue(stack_.get());
  }
  void uncork() {
    if (!corked_) return;
    corked_ = false;
    std::erase(stack_->corked, this);
  }

  void fail(std::error_code error) {
    if (!error_) error_ = error;
    wake();
  }

  tcp_pcb* detach() {
    tcp_pcb* pcb = std::exchange(pcb_, nullptr);
    tcp_arg(pcb, nullptr);
    tcp_recv(pcb, nullptr);
    tcp_sent(pcb, orphan_sent);
    tcp_err(pcb, nullptr);
    return pcb;
  }

  void consumed(std::size_t n) {
    auto& accounting = *stack_->accounting;
    accounting.total.buffered -= n;
    accounting.peer(peer_).buffered -= n;
    accounting.forget_if_idle(peer_);
    buffered_ -= n;
    if (pcb_ == nullptr || n == 0) return;
    // A window update waits for the batch's other output (and may then be
    // coalesced away by a later ACK).
    Core::Batch batch(*stack_->core, Core::Batch::Flush::deferred);
    while (n > 0 && pcb_ != nullptr) {
      const auto chunk = static_cast<u16_t>(std::min<std::size_t>(n, 0xffff));
      tcp_recved(pcb_, chunk);
      n -= chunk;
    }
  }

  void release_received() {
    for (pbuf* p : received_) pbuf_free(p);
    received_.clear();
    offset_ = 0;
    if (buffered_ > 0) {
      auto& accounting = *stack_->accounting;
      accounting.total.buffered -= buffered_;
      accounting.peer(peer_).buffered -= buffered_;
      accounting.forget_if_idle(peer_);
      buffered_ = 0;
    }
  }

  std::shared_ptr<Stack::Impl> stack_;
  tcp_pcb* pcb_;
  std::string peer_ = peer_key(pcb_->remote_ip);
  std::string remote_;
  asio::steady_timer waker_;
  std::deque<pbuf*> received_;
  std::size_t offset_ = 0;    // into received_.front()
  std::size_t buffered_ = 0;  // bytes in received_ not yet read
  bool connected_ = false;
  bool eof_ = false;
  bool closed_ = false;
  bool corked_ = false;  // in stack_->corked
  std::error_code error_;
};

void Stack::Impl::flush() {
  for (Connection* connection : std::exchange(corked, {})) connection->push();
  send_pending();
}

namespace {

// A TCP packet's connection (addresses and ports, as bytes) and what
// coalesce_acks needs of it; nullopt for anything else.
struct TcpFacts {
  std::string_view connection;  // the two addresses' bytes
  std::uint32_t ports = 0;      // source and destination port
  std::uint32_t ack = 0;
  bool pure_ack = false;  // ACK alone, no data, no SYN, FIN or RST
  bool has_ack = false;
};

std::optional<TcpFacts> tcp_facts(const pbuf* p) {
  const auto* bytes = static_cast<const std::uint8_t*>(p->payload);
  const std::size_t size = p->len;
  std::size_t ip_header = 0, addresses = 0, address_bytes = 0;
  if (size >= 20 && (bytes[0] >> 4) == 4) {
    ip_header = (bytes[0] & 0x0f) * 4u;
    if (bytes[9] != 6) return std::nullopt;
    addresses = 12;
    address_bytes = 8;
  } else if (size >= 40 && (bytes[0] >> 4) == 6) {
    ip_header = 40;
    if (bytes[6] != 6) return std::nullopt;
    addresses = 8;
    address_bytes = 32;
  } else {
    return std::nullopt;
  }
  if (size < ip_header + 20) return std::nullopt;
  const std::uint8_t* tcp = bytes + ip_header;
  const std::size_t tcp_header = (tcp[12] >> 4) * 4u;
  if (tcp_header < 20 || size < ip_header + tcp_header) return std::nullopt;
  TcpFacts facts;
  facts.connection = std::string_view(reinterpret_cast<const char*>(bytes + addresses), address_bytes);
  facts.ports = (std::uint32_t{tcp[0]} << 24) | (std::uint32_t{tcp[1]} << 16) | (std::uint32_t{tcp[2]} << 8) | tcp[3];
  const std::uint8_t flags = tcp[13];
  facts.has_ack = (flags & 0x10) != 0;
  facts.ack = (std::uint32_t{tcp[8]} << 24) | (std::uint32_t{tcp[9]} << 16) | (std::uint32_t{tcp[10]} << 8) | tcp[11];
  facts.pure_ack = flags == 0x10 && size == ip_header + tcp_header;
  return facts;
}

}  // namespace

void Stack::Impl::coalesce_acks() {
  if (pending.size() < 2) return;
  struct Latest {
    std::string_view addresses;
    std::uint32_t ports;
    std::uint32_t ack;
  };
  std::vector<Latest> latest;  // per connection, the highest ACK of the packets after the one looked at
  std::vector<pbuf*> kept;
  kept.reserve(pending.size());
  for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
    pbuf* p = *it;
    const auto facts = tcp_facts(p);
    if (!facts || !facts->has_ack) {
      kept.push_back(p);
      continue;
    }
    const std::uint32_t ports = facts->ports;
    auto known = std::find_if(latest.begin(), latest.end(), [&](const Latest& entry) {
      return entry.ports == ports && entry.addresses == facts->connection;
    });
    // Sequence comparison: `later` acknowledges more than `ack`.
    const bool superseded = known != latest.end() && static_cast<std::int32_t>(known->ack - facts->ack) > 0;
    if (facts->pure_ack && superseded) {
      pbuf_free(p);
      continue;
    }
    kept.push_back(p);
    if (known == latest.end()) {
      latest.push_back({facts->connection, ports, facts->ack});
    } else if (static_cast<std::int32_t>(facts->ack - known->ack) > 0) {
      known->ack = facts->ack;
    }
  }
  pending.assign(kept.rbegin(), kept.rend());
}

namespace {

class StreamImpl final : public net::ByteStream {
 public:
  explicit StreamImpl(std::shared_ptr<Connection> connection) : connection_(std::move(connection)) {}
  ~StreamImpl() override { connection_->close(); }
  net::Awaitable<std::expected<std::size_t, std::error_code>> read_some(std::span<std::byte> buffer) override {
    return connection_->read_some(buffer);
  }
  net::Awaitable<std::error_code> write(std::span<const std::byte> data) override { return connection_->write(data); }
  void close() override { connection_->close(); }
  std::string remote_address() const override { return connection_->remote(); }

 private:
  std::shared_ptr<Connection> connection_;
};

}  // namespace

// A listening PCB and the connections established on it, not yet accepted.
class ListenState : public std::enable_shared_from_this<ListenState> {
 public:
  ListenState(std::shared_ptr<Stack::Impl> stack, tcp_pcb* pcb, std::string local)
      : stack_(std::move(stack)), pcb_(pcb), local_(std::move(local)), port_(pcb->local_port),
        waker_(stack_->core->io()) {
    waker_.expires_at(asio::steady_timer::time_point::max());
    stack_->listeners.insert(this);
    tcp_arg(pcb_, this);
    tcp_accept(pcb_, &ListenState::on_accept);
    tcp_ext_arg_set_callbacks(pcb_, ext_arg_id(), &listen_callbacks);
    tcp_ext_arg_set(pcb_, ext_arg_id(), this);
  }
  ~ListenState() {
    close();
    stack_->listeners.erase(this);
  }
  ListenState(const ListenState&) = delete;
  ListenState& operator=(const ListenState&) = delete;

  net::Awaitable<std::expected<std::unique_ptr<net::ByteStream>, std::error_code>> accept() {
    auto self = shared_from_this();
    while (ready_.empty() && !closed_) {
      boost::system::error_code ignored;
      co_await waker_.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
    }
    if (closed_) co_return std::unexpected(std::make_error_code(std::errc::operation_canceled));
    auto connection = std::move(ready_.front());
    ready_.pop_front();
    if (tcp_pcb* pcb = connection->pcb()) tcp_backlog_accepted(pcb);
    co_return std::make_unique<StreamImpl>(std::move(connection));
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    ready_.clear();  // their streams never existed: reset them
    if (pcb_ != nullptr) {
      Core::Batch batch(*stack_->core);
      tcp_ext_arg_set(pcb_, ext_arg_id(), nullptr);
      tcp_arg(pcb_, nullptr);
      tcp_accept(pcb_, nullptr);
      tcp_close(std::exchange(pcb_, nullptr));  // a listening PCB closes at once
    }
    waker_.cancel();
  }

  // Closes the listener if it listens on one of these addresses.
  void close_if_on(const ip_addr_t* v4, const ip_addr_t* v6) {
    if (pcb_ == nullptr) return;
    const ip_addr_t& local = pcb_->local_ip;
    if ((v4 != nullptr && ip_addr_cmp(&local, v4)) || (v6 != nullptr && ip_addr_cmp(&local, v6))) close();
  }

  const std::string& local() const { return local_; }
  std::uint16_t port() const { return port_; }

 private:
  // A SYN on the listening PCB made `pcb` (SYN_RCVD): admitted if the caps
  // allow it. Refused, it is dropped without an answer; the peer retries.
  static err_t on_passive_open(u8_t, tcp_pcb_listen* listener, tcp_pcb* pcb) {
    auto* self = static_cast<ListenState*>(tcp_ext_arg_get(reinterpret_cast<tcp_pcb*>(listener), ext_arg_id()));
    if (self == nullptr) return ERR_ABRT;
    auto& accounting = *self->stack_->accounting;
    const auto& limits = accounting.limits;
    const std::string key = peer_key(pcb->remote_ip);
    const auto& peer_counts = accounting.peer(key);
    if (accounting.total.connections + accounting.total.half_open >= limits.max_connections ||
        peer_counts.connections + peer_counts.half_open >= limits.max_connections_per_peer) {
      ++accounting.connections_refused;
      accounting.forget_if_idle(key);
      return ERR_ABRT;
    }
    if (accounting.total.half_open >= limits.max_half_open || peer_counts.half_open >= limits.max_half_open_per_peer) {
      ++accounting.half_open_refused;
      accounting.forget_if_idle(key);
      return ERR_ABRT;
    }
    attach_tracker(pcb, self->stack_->accounting, false);
    return ERR_OK;
  }

  static err_t on_accept(void* arg, tcp_pcb* pcb, err_t error) {
    auto* self = static_cast<ListenState*>(arg);
    if (self == nullptr || error != ERR_OK || pcb == nullptr) return ERR_VAL;
    if (Tracker* tracker = tracker_of(pcb)) tracker->establish();
    clamp_rto(pcb);
    // It counts against the listener's backlog until accept() takes it:
    // with the backlog full, new SYNs are dropped (the peer retries).
    tcp_backlog_delayed(pcb);
    self->ready_.push_back(std::make_shared<Connection>(self->stack_, pcb));
    self->waker_.cancel();
    return ERR_OK;
  }

  static constexpr tcp_ext_arg_callbacks listen_callbacks = {nullptr, &ListenState::on_passive_open};

  std::shared_ptr<Stack::Impl> stack_;
  tcp_pcb* pcb_;
  std::string local_;
  std::uint16_t port_;
  asio::steady_timer waker_;
  std::deque<std::shared_ptr<Connection>> ready_;
  bool closed_ = false;
};

namespace {

class ListenerImpl final : public net::Listener {
 public:
  explicit ListenerImpl(std::shared_ptr<ListenState> state) : state_(std::move(state)) {}
  ~ListenerImpl() override { state_->close(); }
  net::Awaitable<std::expected<std::unique_ptr<net::ByteStream>, std::error_code>> accept() override {
    return state_->accept();
  }
  void close() override { state_->close(); }
  std::string local_address() const override { return state_->local(); }
  std::uint16_t local_port() const override { return state_->port(); }

 private:
  std::shared_ptr<ListenState> state_;
};

class StackInterface final : public wireguard::device::PacketInterface {
 public:
  explicit StackInterface(std::shared_ptr<Stack::Impl> impl) : impl_(std::move(impl)) {}
  ~StackInterface() override { close(); }
  void start(ReceiveHandler handler) override { impl_->output = std::move(handler); }
  void write(std::span<const Packet> packets) override {
    if (!closed_) impl_->input(packets);
  }
  std::size_t mtu() const override { return impl_->options.mtu; }
  void close() override {
    if (closed_) return;
    closed_ = true;
    impl_->output = nullptr;
  }

 private:
  std::shared_ptr<Stack::Impl> impl_;
  bool closed_ = false;
};

}  // namespace

namespace {

// Aborts every PCB bound to `interface` except listening ones: connections
// (their streams fail), half-open ones, closing ones and TIME_WAIT.
// lwIP's own clean-up on an address change or an interface's removal
// aborts by address, which would take another stack's connections on the
// same address with them; the stacks never let it run (below).
// With `address`, only those on that local address.
void abort_connections_of(netif& interface, const ip_addr_t* address = nullptr) {
  const u8_t index = netif_get_index(&interface);
  std::vector<tcp_pcb*> doomed;
  for (tcp_pcb* list : {tcp_active_pcbs, tcp_tw_pcbs, tcp_bound_pcbs}) {
    for (tcp_pcb* pcb = list; pcb != nullptr; pcb = pcb->next)
      if (pcb->netif_idx == index && (address == nullptr || ip_addr_cmp(&pcb->local_ip, address)))
        doomed.push_back(pcb);
  }
  for (tcp_pcb* pcb : doomed) tcp_abort(pcb);
}

// Sets the interface's addresses without lwIP's address-change handling
// (see abort_connections_of): the caller has aborted what used the old ones.
void write_addresses(netif& interface, const std::optional<ip_addr_t>& v4, const std::optional<ip_addr_t>& v6) {
  ip4_addr_t mask;
  IP4_ADDR(&mask, 255, 255, 255, 255);
  if (v4) {
    ip_addr_copy_from_ip4(interface.ip_addr, *ip_2_ip4(&*v4));
    ip_addr_copy_from_ip4(interface.netmask, mask);
  } else {
    ip_addr_set_zero_ip4(&interface.ip_addr);
    ip_addr_set_zero_ip4(&interface.netmask);
  }
  if (v6) {
    ip_addr_copy_from_ip6(interface.ip6_addr[0], *ip_2_ip6(&*v6));
    interface.ip6_addr_state[0] = IP6_ADDR_PREFERRED;
  } else {
    ip_addr_set_zero_ip6(&interface.ip6_addr[0]);
    interface.ip6_addr_state[0] = IP6_ADDR_INVALID;
  }
}

// The link-local address lives in the second IPv6 slot; set_addresses
// writes only the first.
constexpr int kLinkLocalSlot = 1;
static_assert(LWIP_IPV6_NUM_ADDRESSES > kLinkLocalSlot);

void write_link_local(netif& interface, const std::optional<ip_addr_t>& address) {
  if (address) {
    ip_addr_copy_from_ip6(interface.ip6_addr[kLinkLocalSlot], *ip_2_ip6(&*address));
    interface.ip6_addr_state[kLinkLocalSlot] = IP6_ADDR_PREFERRED;
  } else {
    ip_addr_set_zero_ip6(&interface.ip6_addr[kLinkLocalSlot]);
    interface.ip6_addr_state[kLinkLocalSlot] = IP6_ADDR_INVALID;
  }
}

}  // namespace

std::error_code Stack::Impl::apply_link_local(const std::string& address) {
  std::optional<ip_addr_t> wanted;
  if (!address.empty()) {
    wanted = parse_address(address);
    if (!wanted || !IP_IS_V6_VAL(*wanted)) return net::Errc::not_an_ip_address;
    if (!ip6_addr_islinklocal(ip_2_ip6(&*wanted))) return std::make_error_code(std::errc::invalid_argument);
  }
  if (closed || !added) return std::make_error_code(std::errc::network_down);
  // lwIP compares link-local addresses with their zones: an interface's
  // own carries the interface's index, as lwIP gives those of the packets
  // that arrive on it (ip6_input).
  if (wanted) ip6_addr_assign_zone(ip_2_ip6(&*wanted), IP6_UNICAST, &interface);
  if (link_local.has_value() == wanted.has_value() && (!wanted || ip_addr_cmp(&*link_local, &*wanted))) return {};
  Core::Batch batch(*core);
  if (link_local) abort_connections_of(interface, &*link_local);
  write_link_local(interface, wanted);
  link_local = wanted;
  return {};
}

std::optional<ip_addr_t> Stack::Impl::own_address(const ip_addr_t& address) const {
  if (IP_IS_V4_VAL(address)) {
    if (ipv4 && ip_addr_cmp(&*ipv4, &address)) return ipv4;
    return std::nullopt;
  }
  if (ipv6 && ip6_addr_cmp_zoneless(ip_2_ip6(&*ipv6), ip_2_ip6(&address))) return ipv6;
  if (link_local && ip6_addr_cmp_zoneless(ip_2_ip6(&*link_local), ip_2_ip6(&address))) return link_local;
  return std::nullopt;
}

std::error_code Stack::Impl::apply_addresses(const std::string& v4, const std::string& v6) {
  std::optional<ip_addr_t> new_v4, new_v6;
  if (!v4.empty()) {
    new_v4 = parse_address(v4);
    if (!new_v4 || !IP_IS_V4_VAL(*new_v4)) return net::Errc::not_an_ip_address;
  }
  if (!v6.empty()) {
    new_v6 = parse_address(v6);
    if (!new_v6 || !IP_IS_V6_VAL(*new_v6)) return net::Errc::not_an_ip_address;
  }
  auto same = [](const std::optional<ip_addr_t>& a, const std::optional<ip_addr_t>& b) {
    return a.has_value() == b.has_value() && (!a || ip_addr_cmp(&*a, &*b));
  };
  if (same(ipv4, new_v4) && same(ipv6, new_v6)) return {};
  Core::Batch batch(*core);
  if (added) {
    // Connections and listeners on an address that goes away end: reset.
    const bool v4_goes = ipv4 && !same(ipv4, new_v4);
    const bool v6_goes = ipv6 && !same(ipv6, new_v6);
    if (v4_goes) abort_connections_of(interface, &*ipv4);
    if (v6_goes) abort_connections_of(interface, &*ipv6);
    if (v4_goes || v6_goes) {
      for (ListenState* listener : std::vector<ListenState*>(listeners.begin(), listeners.end()))
        listener->close_if_on(v4_goes ? &*ipv4 : nullptr, v6_goes ? &*ipv6 : nullptr);
    }
  }
  write_addresses(interface, new_v4, new_v6);
  ipv4 = new_v4;
  ipv6 = new_v6;
  return {};
}

void Stack::Impl::close() {
  if (closed) return;
  {
    // Reset every connection and close every listener (the resets leave
    // when the batch closes); they stay valid for their owners, failing
    // every operation.
    Core::Batch batch(*core);
    for (Connection* connection : std::vector<Connection*>(connections.begin(), connections.end()))
      connection->abort();
    for (ListenState* listener : std::vector<ListenState*>(listeners.begin(), listeners.end())) listener->close();
  }
  Core::Batch batch(*core);
  closed = true;
  output = nullptr;
  for (pbuf* p : pending) pbuf_free(p);
  pending.clear();
  core->forget(this);
  if (added) {
    abort_connections_of(interface);
    write_addresses(interface, std::nullopt, std::nullopt);
    write_link_local(interface, std::nullopt);
    link_local.reset();
    netif_remove(&interface);
    added = false;
  }
}

Stack::Stack(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Stack::~Stack() {
  if (impl_) impl_->close();
}

std::expected<std::shared_ptr<Stack>, std::error_code> Stack::create(asio::io_context& io, StackOptions options) {
  auto core = Core::acquire(io);
  if (!core) return std::unexpected(std::make_error_code(std::errc::resource_unavailable_try_again));
  auto impl = std::make_shared<Impl>();
  impl->core = std::move(core);
  impl->options = std::move(options);
  impl->accounting->limits = impl->options.limits;
  Core::Batch batch(*impl->core);
  if (netif_add_noaddr(&impl->interface, impl.get(), interface_init, ip_input) == nullptr)
    return std::unexpected(std::make_error_code(std::errc::no_buffer_space));
  impl->added = true;
  if (const auto error = impl->apply_addresses(impl->options.ipv4, impl->options.ipv6)) return std::unexpected(error);
  if (const auto error = impl->apply_link_local(impl->options.link_local)) return std::unexpected(error);
  impl->link_local_tcp_port = impl->options.link_local_tcp_port;
  netif_set_up(&impl->interface);
  netif_set_link_up(&impl->interface);
  return std::shared_ptr<Stack>(new Stack(std::move(impl)));
}

std::unique_ptr<wireguard::device::PacketInterface> Stack::packet_interface() {
  return std::make_unique<StackInterface>(impl_);
}

void Stack::set_output(Output output) { impl_->output = std::move(output); }

void Stack::input(std::span<const Packet> packets) { impl_->input(packets); }

std::expected<std::unique_ptr<net::Listener>, std::error_code> Stack::listen(const std::string& address,
                                                                            std::uint16_t port) {
  const auto parsed = parse_address(address);
  if (!parsed) return std::unexpected(std::error_code(net::Errc::not_an_ip_address));
  if (impl_->closed) return std::unexpected(std::make_error_code(std::errc::network_down));
  const bool v6 = IP_IS_V6_VAL(*parsed);
  const bool any = ip_addr_isany_val(*parsed);
  const auto& own = v6 ? impl_->ipv6 : impl_->ipv4;
  if (!any && (!own || !ip_addr_cmp(&*own, &*parsed)))
    return std::unexpected(std::error_code(net::Errc::mesh_address_not_local));
  Core::Batch batch(*impl_->core);
  tcp_pcb* pcb = tcp_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
  if (pcb == nullptr) return std::unexpected(std::make_error_code(std::errc::no_buffer_space));
  tcp_bind_netif(pcb, &impl_->interface);
  if (const err_t bound = tcp_bind(pcb, &*parsed, port); bound != ERR_OK) {
    tcp_abort(pcb);
    return std::unexpected(to_error_code(bound));
  }
  err_t listen_error = ERR_OK;
  const auto backlog = static_cast<u8_t>(std::clamp<std::size_t>(impl_->options.limits.listen_backlog, 1, 255));
  tcp_pcb* listening = tcp_listen_with_backlog_and_err(pcb, backlog, &listen_error);
  if (listening == nullptr) {
    tcp_abort(pcb);
    return std::unexpected(to_error_code(listen_error));
  }
  auto state = std::make_shared<ListenState>(impl_, listening,
                                             net::format_authority(format_address(*parsed), listening->local_port));
  return std::make_unique<ListenerImpl>(std::move(state));
}

namespace {

// A dial from `source` (one of the stack's addresses), or from the stack's
// address of the target's family when there is none.
net::Awaitable<std::expected<std::unique_ptr<net::ByteStream>, std::error_code>> dial(
    std::weak_ptr<Stack::Impl> weak, net::Target target, std::optional<std::string> source) {
  auto impl = weak.lock();
  if (!impl || impl->closed) co_return std::unexpected(std::make_error_code(std::errc::network_down));
  const auto remote = parse_address(target.host);
  if (!remote) co_return std::unexpected(std::error_code(net::Errc::not_an_ip_address));
  const bool v6 = IP_IS_V6_VAL(*remote);
  std::optional<ip_addr_t> local;
  if (source) {
    const auto wanted = parse_address(*source);
    if (!wanted) co_return std::unexpected(std::error_code(net::Errc::not_an_ip_address));
    local = impl->own_address(*wanted);
    if (!local) co_return std::unexpected(std::error_code(net::Errc::source_address_not_local));
    if (IP_IS_V6_VAL(*local) != v6) co_return std::unexpected(std::error_code(net::Errc::no_address_of_family));
  } else {
    local = v6 ? impl->ipv6 : impl->ipv4;
    if (!local) co_return std::unexpected(std::error_code(net::Errc::no_address_of_family));
  }
  std::shared_ptr<Connection> connection;
  {
    Core::Batch batch(*impl->core);
    tcp_pcb* pcb = tcp_new_ip_type(v6 ? IPADDR_TYPE_V6 : IPADDR_TYPE_V4);
    if (pcb == nullptr) co_return std::unexpected(std::make_error_code(std::errc::no_buffer_space));
    tcp_bind_netif(pcb, &impl->interface);
    if (const err_t bound = tcp_bind(pcb, &*local, 0); bound != ERR_OK) {
      tcp_abort(pcb);
      co_return std::unexpected(to_error_code(bound));
    }
    ip_addr_copy(pcb->remote_ip, *remote);  // for the peer's accounting key, before connect sets it
    attach_tracker(pcb, impl->accounting, true);
    connection = std::make_shared<Connection>(impl, pcb);
  }
  auto connected = co_await connection->connect(*remote, target.port, impl->options.connect_timeout);
  if (!connected) co_return std::unexpected(connected.error());
  co_return std::make_unique<StreamImpl>(std::move(connection));
}

}  // namespace

net::Dialer Stack::dialer() {
  std::weak_ptr<Impl> weak = impl_;
  return [weak](const net::Target& target) { return dial(weak, target, std::nullopt); };
}

net::Dialer Stack::dialer_from(const std::string& source) {
  std::weak_ptr<Impl> weak = impl_;
  return [weak, source](const net::Target& target) { return dial(weak, target, source); };
}

std::error_code Stack::set_addresses(const std::string& ipv4, const std::string& ipv6) {
  return impl_->apply_addresses(ipv4, ipv6);
}

std::string Stack::ipv4() const { return impl_->ipv4 ? format_address(*impl_->ipv4) : std::string(); }
std::string Stack::ipv6() const { return impl_->ipv6 ? format_address(*impl_->ipv6) : std::string(); }

std::error_code Stack::set_link_local(const std::string& address) { return impl_->apply_link_local(address); }

std::string Stack::link_local() const {
  return impl_->link_local ? format_address(*impl_->link_local) : std::string();
}

void Stack::restrict_link_local(std::uint16_t tcp_port) { impl_->link_local_tcp_port = tcp_port; }

StackStats Stack::stats() const {
  const auto& accounting = *impl_->accounting;
  StackStats stats;
  stats.packets_in = impl_->packets_in;
  stats.packets_out = impl_->packets_out;
  stats.bytes_in = impl_->bytes_in;
  stats.bytes_out = impl_->bytes_out;
  stats.packets_dropped = impl_->packets_dropped;
  stats.connections_refused = accounting.connections_refused;
  stats.half_open_refused = accounting.half_open_refused;
  stats.receive_deferred = accounting.receive_deferred;
  stats.retransmits = impl_->retransmits;
  stats.restricted_dropped = impl_->restricted_dropped;
  stats.connections = accounting.total.connections;
  stats.half_open = accounting.total.half_open;
  stats.buffered_bytes = accounting.total.buffered;
  return stats;
}

void Stack::close() { impl_->close(); }

}  // namespace coral::netstack
