// bench/lwip_choice: the same TCP measurements on two builds of lwIP 2.1.3,
// to choose between them (docs/netstack.md, "The measurement").
//
//   SOURCE    (coral-lwip-choice-source): coral's coral_lwip target, i.e.
//             lwIP compiled with src/netstack/lwip/lwipopts.h (NO_SYS=1,
//             1 MiB windows, 10 ms TCP ticks). This program drives lwIP on
//             its one thread: it delivers the wire's packets when they are
//             due and runs sys_check_timeouts(). The hooks that lwipopts.h
//             names come with coral_lwip (src/netstack/lwip_port.cpp).
//   PACKAGED  (coral-lwip-choice-packaged, -DLWIP_CHOICE_PACKAGED): Debian's
//             liblwip-dev (built for GNU Hurd: NO_SYS=0, tcpip_thread with
//             core locking, 64 KiB windows, 250/500 ms TCP ticks), its own
//             headers and lwipopts.h, -llwip. Every raw-API call runs on
//             lwIP's tcpip thread (callbacks) or under LOCK_TCPIP_CORE (set-up
//             and tear-down on the main thread); packets enter through
//             tcpip_input from a wire thread, as a device thread would.
//
// One lwIP instance, two point-to-point interfaces (10.0.0.1 and 10.0.0.2,
// MTU 1420 as coral's WireGuard: both builds use an MSS of 1380), no ARP.
// An interface's output copies the packet into a queue towards the other
// one: the "wire", with a one-way delay (a clock-checked FIFO; sub-ms delays
// are needed, lwIP's sys_timeout has 1 ms resolution) and the optional loss
// of one chosen segment (first transmission only). Raw TCP API, Nagle off;
// the application runs in lwIP's callbacks. The retransmission floor of
// coral's glue (src/netstack/stack.cpp: pcb->rto raised to 200 ms in slow-
// timer ticks on connect/accept/sent) is applied in both builds; with the
// packaged 500 ms slow tick it rounds to 0 ticks, i.e. does nothing.
//
// Measures (each bounded by --limit seconds; a case over it is reported as
// failed):
//   bulk     one stream of --bulk-mib MiB A -> B at one-way delays 0, 0.5 and
//            2 ms: Mbit/s from the connection's establishment to the last
//            byte received, and the process's CPU time (all threads) per MiB.
//   rr       --rounds sequential 1-byte requests and 1-byte responses at a
//            0.1 ms one-way delay (after 20 unrecorded rounds): p50, p99.
//   loss     1 MiB as 16 bursts of 64 KiB; the receiver answers each whole
//            burst with 1 byte, the sender writes the next burst on that
//            answer (an RPC-like pattern). 0.5 ms one-way delay. With loss,
//            the last segment of burst 8 is dropped once: nothing follows it,
//            so no duplicate ACKs and no fast retransmit, only the RTO.
//            Median over --reps runs with and without the loss.
// Output: "key<TAB>value" lines on stdout (bench/lwip_choice.sh tables
// them); progress on stderr.

#include <sys/prctl.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

extern "C" {
#include "lwip/init.h"
#include "lwip/ip.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"  // TCP_TMR_INTERVAL (250 ms unless lwipopts.h sets it)
#include "lwip/tcp.h"
#include "lwip/timeouts.h"
#ifdef LWIP_CHOICE_PACKAGED
#include "lwip/tcpip.h"
#endif
}

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

#ifdef LWIP_CHOICE_PACKAGED
constexpr const char* kVariant = "packaged";
struct CoreLock {
  CoreLock() { LOCK_TCPIP_CORE(); }
  ~CoreLock() { UNLOCK_TCPIP_CORE(); }
  CoreLock(const CoreLock&) = delete;
  CoreLock& operator=(const CoreLock&) = delete;
};
#else
constexpr const char* kVariant = "source";
struct [[maybe_unused]] CoreLock {
  CoreLock() {}  // NO_SYS=1: one thread, nothing to lock
};
#endif

// coral's glue: the retransmission timeout never goes below 200 ms, in
// slow-timer ticks (src/netstack/stack.cpp, kMinRtoTicks).
constexpr s16_t kMinRtoTicks = 200 / (2 * TCP_TMR_INTERVAL);
void clamp_rto(tcp_pcb* pcb) {
  if (pcb != nullptr && pcb->rto < kMinRtoTicks) pcb->rto = kMinRtoTicks;
}

constexpr u16_t kMtu = 1420;

// Waits until t. A sleep, not a spin: on a busy machine a thread that
// yields in a loop loses whole time slices (milliseconds) to other
// processes, while a sleeper is woken promptly. main() sets a timer slack of
// 1 ns (inherited by every thread), so sleeps end within microseconds.
void wait_until(Clock::time_point t) {
  if (Clock::now() < t) std::this_thread::sleep_until(t);
}

// CPU time of the whole process (every thread), seconds.
double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// ------------------------------------------------------------------ wire
struct Packet {
  Clock::time_point due;
  int to;  // index of the receiving interface
  std::vector<std::uint8_t> bytes;
};

struct Wire {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Packet> queue;  // constant delay: due times are in push order
  Clock::duration delay{};
  // Loss of one segment from interface 0: the first with payload whose end
  // sequence number is drop_end.
  bool drop_armed = false;
  std::uint32_t drop_end = 0;
  int dropped = 0;
  std::uint64_t packets = 0;
  std::uint64_t input_retries = 0;  // packaged: tcpip mbox full, retried
};

Wire wire;
struct netif netifs[2];

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
}

// netif->output (IPv4): runs inside lwIP (core locked in the packaged build).
err_t wire_output(struct netif* netif, struct pbuf* p, const ip4_addr_t*) {
  const int from = netif == &netifs[0] ? 0 : 1;
  Packet packet;
  packet.to = 1 - from;
  packet.bytes.resize(p->tot_len);
  pbuf_copy_partial(p, packet.bytes.data(), p->tot_len, 0);
  const auto& b = packet.bytes;
  if (from == 0 && b.size() >= 20 && b[9] == IP_PROTO_TCP) {
    const std::size_t ihl = (b[0] & 0x0fu) * 4u;
    const std::size_t total = (std::size_t{b[2]} << 8) | b[3];
    if (b.size() >= ihl + 20 && total <= b.size()) {
      const std::size_t doff = (b[ihl + 12] >> 4) * 4u;
      const std::size_t payload = total - ihl - doff;
      const std::uint32_t seq = be32(&b[ihl + 4]);
      std::lock_guard lock(wire.mu);
      if (wire.drop_armed && payload > 0 && seq + static_cast<std::uint32_t>(payload) == wire.drop_end) {
        wire.drop_armed = false;
        ++wire.dropped;
        return ERR_OK;
      }
    }
  }
  {
    std::lock_guard lock(wire.mu);
    packet.due = Clock::now() + wire.delay;
    wire.queue.push_back(std::move(packet));
    ++wire.packets;
  }
  wire.cv.notify_one();
  return ERR_OK;
}

#if LWIP_IPV6
err_t wire_output6(struct netif*, struct pbuf*, const ip6_addr_t*) { return ERR_OK; }
#endif

err_t netif_setup(struct netif* netif) {
  netif->name[0] = 'b';
  netif->name[1] = netif == &netifs[0] ? 'a' : 'b';
  netif->output = wire_output;
#if LWIP_IPV6
  netif->output_ip6 = wire_output6;
#endif
  netif->mtu = kMtu;
  netif->flags = 0;  // point to point: no broadcast, no ARP
  return ERR_OK;
}

// A received packet, as a pbuf for lwIP.
struct pbuf* to_pbuf(const Packet& packet) {
  struct pbuf* p = pbuf_alloc(PBUF_RAW, static_cast<u16_t>(packet.bytes.size()), PBUF_RAM);
  if (p != nullptr) pbuf_take(p, packet.bytes.data(), static_cast<u16_t>(packet.bytes.size()));
  return p;
}

void wire_clear() {
  std::lock_guard lock(wire.mu);
  wire.queue.clear();
  wire.drop_armed = false;
}

#ifdef LWIP_CHOICE_PACKAGED
// The device thread: hands due packets to the tcpip thread.
std::atomic<bool> wire_stop{false};
void wire_thread() {
  while (!wire_stop.load()) {
    Packet packet;
    {
      std::unique_lock lock(wire.mu);
      if (wire.queue.empty()) {
        wire.cv.wait_for(lock, 5ms);
        continue;
      }
      const auto due = wire.queue.front().due;
      if (due > Clock::now()) {
        lock.unlock();
        wait_until(due);  // later packets are due later still
        continue;
      }
      packet = std::move(wire.queue.front());
      wire.queue.pop_front();
    }
    struct pbuf* p = to_pbuf(packet);
    if (p == nullptr) continue;
    while (tcpip_input(p, &netifs[packet.to]) != ERR_OK) {
      // The tcpip mailbox is full: back-pressure, not loss.
      {
        std::lock_guard lock(wire.mu);
        ++wire.input_retries;
      }
      if (wire_stop.load()) {
        pbuf_free(p);
        break;
      }
      std::this_thread::sleep_for(20us);
    }
  }
}
#else
// One turn of the loop that drives lwIP: delivers what is due, runs the
// timeouts, waits for the next packet or timeout (at most 1 ms).
void drive_once() {
  const auto now = Clock::now();
  for (;;) {
    Packet packet;
    {
      if (wire.queue.empty() || wire.queue.front().due > now) break;
      packet = std::move(wire.queue.front());
      wire.queue.pop_front();
    }
    if (struct pbuf* p = to_pbuf(packet)) {
      if (netifs[packet.to].input(p, &netifs[packet.to]) != ERR_OK) pbuf_free(p);
    }
  }
  sys_check_timeouts();
  auto next = Clock::now() + 1ms;
  const u32_t sleep = sys_timeouts_sleeptime();
  if (sleep != SYS_TIMEOUTS_SLEEPTIME_INFINITE) next = std::min(next, Clock::now() + std::chrono::milliseconds(sleep));
  if (!wire.queue.empty()) next = std::min(next, wire.queue.front().due);
  wait_until(next);
}
#endif

// ------------------------------------------------------------------ cases
enum class Kind { bulk, rr, loss };

struct Case {
  Kind kind{};
  std::uint64_t total = 0;  // bulk: bytes
  int rounds = 0;           // rr: recorded rounds
  int warmup = 0;           // rr: unrecorded rounds first
  std::size_t burst = 0;    // loss: bytes per burst
  int drop_burst = 0;       // loss: 1-based burst whose last segment is lost (0: none)

  tcp_pcb* listener = nullptr;
  tcp_pcb* client = nullptr;
  tcp_pcb* server = nullptr;
  std::uint32_t seq0 = 0;  // client's first data sequence number

  std::uint64_t written = 0;   // client: bytes handed to tcp_write
  std::uint64_t received = 0;  // server: bytes received
  int bursts_done = 0;         // loss: answers received by the client
  std::uint64_t burst_received = 0;
  int round = 0;
  Clock::time_point t_start, t_end, t_req;
  std::vector<double> latencies_us;
  std::string error;
  std::atomic<bool> done{false};
};

std::vector<char> payload(65535, 'x');

void finish(Case& c, std::string error = {}) {
  if (c.done.load()) return;
  c.t_end = Clock::now();
  if (!error.empty() && c.error.empty()) c.error = std::move(error);
  c.done.store(true);
}

// Client: writes what fits of what is left to write (bulk, loss burst).
void pump(Case& c, std::uint64_t limit) {
  tcp_pcb* pcb = c.client;
  if (pcb == nullptr) return;
  bool wrote = false;
  while (c.written < limit) {
    const std::size_t room = tcp_sndbuf(pcb);
    if (room == 0 || tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4) break;
    const auto n = static_cast<u16_t>(std::min<std::uint64_t>({room, limit - c.written, payload.size()}));
    const err_t e = tcp_write(pcb, payload.data(), n, TCP_WRITE_FLAG_COPY);
    if (e == ERR_MEM) break;
    if (e != ERR_OK) {
      finish(c, "tcp_write: " + std::to_string(e));
      return;
    }
    c.written += n;
    wrote = true;
  }
  if (wrote) tcp_output(pcb);
}

void write_byte(Case& c, tcp_pcb* pcb) {
  const char b = 'r';
  if (tcp_write(pcb, &b, 1, TCP_WRITE_FLAG_COPY) != ERR_OK) {
    finish(c, "tcp_write of one byte failed");
    return;
  }
  tcp_output(pcb);
}

void start_burst(Case& c) {
  const auto end = std::uint64_t(c.bursts_done + 1) * c.burst;
  if (c.drop_burst == c.bursts_done + 1) {
    std::lock_guard lock(wire.mu);
    wire.drop_armed = true;
    wire.drop_end = c.seq0 + static_cast<std::uint32_t>(end);
  }
  pump(c, end);
}

err_t client_sent(void* arg, tcp_pcb* pcb, u16_t) {
  auto& c = *static_cast<Case*>(arg);
  clamp_rto(pcb);
  if (c.kind == Kind::bulk) pump(c, c.total);
  if (c.kind == Kind::loss) pump(c, std::uint64_t(c.bursts_done + 1) * c.burst);
  return ERR_OK;
}

err_t client_recv(void* arg, tcp_pcb* pcb, struct pbuf* p, err_t) {
  auto& c = *static_cast<Case*>(arg);
  if (p == nullptr) {
    finish(c, "client: connection closed by the peer");
    return ERR_OK;
  }
  const u16_t n = p->tot_len;
  tcp_recved(pcb, n);
  pbuf_free(p);
  if (c.done.load()) return ERR_OK;
  const auto now = Clock::now();
  for (u16_t i = 0; i < n; ++i) {
    if (c.kind == Kind::rr) {
      if (c.round >= c.warmup)
        c.latencies_us.push_back(std::chrono::duration<double, std::micro>(now - c.t_req).count());
      if (c.round == c.warmup - 1) c.t_start = now;
      ++c.round;
      if (c.round >= c.warmup + c.rounds) {
        finish(c);
        return ERR_OK;
      }
      c.t_req = Clock::now();
      write_byte(c, pcb);
    } else if (c.kind == Kind::loss) {
      ++c.bursts_done;
      if (std::uint64_t(c.bursts_done) * c.burst >= c.total) {
        finish(c);
        return ERR_OK;
      }
      start_burst(c);
    }
  }
  return ERR_OK;
}

err_t server_recv(void* arg, tcp_pcb* pcb, struct pbuf* p, err_t) {
  auto& c = *static_cast<Case*>(arg);
  if (p == nullptr) {
    finish(c, "server: connection closed by the peer");
    return ERR_OK;
  }
  const u16_t n = p->tot_len;
  tcp_recved(pcb, n);
  pbuf_free(p);
  if (c.done.load()) return ERR_OK;
  c.received += n;
  if (c.kind == Kind::bulk) {
    if (c.received >= c.total) finish(c);
  } else if (c.kind == Kind::rr) {
    for (u16_t i = 0; i < n; ++i) write_byte(c, pcb);
  } else {
    c.burst_received += n;
    while (c.burst_received >= c.burst) {
      c.burst_received -= c.burst;
      write_byte(c, pcb);
    }
  }
  return ERR_OK;
}

void client_err(void* arg, err_t e) {
  auto& c = *static_cast<Case*>(arg);
  c.client = nullptr;
  finish(c, "client: connection error " + std::to_string(e));
}

void server_err(void* arg, err_t e) {
  auto& c = *static_cast<Case*>(arg);
  c.server = nullptr;
  finish(c, "server: connection error " + std::to_string(e));
}

err_t server_sent(void*, tcp_pcb* pcb, u16_t) {
  clamp_rto(pcb);
  return ERR_OK;
}

err_t on_accept(void* arg, tcp_pcb* pcb, err_t e) {
  auto& c = *static_cast<Case*>(arg);
  if (e != ERR_OK || pcb == nullptr) return ERR_VAL;
  c.server = pcb;
  clamp_rto(pcb);
  tcp_arg(pcb, &c);
  tcp_nagle_disable(pcb);
  tcp_recv(pcb, server_recv);
  tcp_sent(pcb, server_sent);
  tcp_err(pcb, server_err);
  return ERR_OK;
}

err_t on_connected(void* arg, tcp_pcb* pcb, err_t) {
  auto& c = *static_cast<Case*>(arg);
  clamp_rto(pcb);
  c.seq0 = pcb->snd_nxt;
  c.t_start = Clock::now();
  switch (c.kind) {
    case Kind::bulk:
      pump(c, c.total);
      break;
    case Kind::rr:
      c.t_req = Clock::now();
      write_byte(c, pcb);
      break;
    case Kind::loss:
      start_burst(c);
      break;
  }
  return ERR_OK;
}

u16_t next_port = 5000;

// Runs one case to its end or the time limit; false (and c.error) if it failed.
bool run(Case& c, Clock::duration delay, double limit_s) {
  wire_clear();
  {
    std::lock_guard lock(wire.mu);
    wire.delay = delay;
    wire.dropped = 0;
  }
  const u16_t port = next_port++;
  {
    CoreLock lock;
    tcp_pcb* l = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (l == nullptr) {
      c.error = "tcp_new failed";
      return false;
    }
    tcp_bind_netif(l, &netifs[1]);
    if (tcp_bind(l, netif_ip_addr4(&netifs[1]), port) != ERR_OK) {
      c.error = "tcp_bind failed";
      tcp_close(l);
      return false;
    }
    c.listener = tcp_listen_with_backlog(l, 4);
    tcp_arg(c.listener, &c);
    tcp_accept(c.listener, on_accept);

    c.client = tcp_new_ip_type(IPADDR_TYPE_V4);
    tcp_bind_netif(c.client, &netifs[0]);
    tcp_bind(c.client, netif_ip_addr4(&netifs[0]), 0);
    tcp_nagle_disable(c.client);
    tcp_arg(c.client, &c);
    tcp_recv(c.client, client_recv);
    tcp_sent(c.client, client_sent);
    tcp_err(c.client, client_err);
    if (tcp_connect(c.client, netif_ip_addr4(&netifs[1]), port, on_connected) != ERR_OK)
      finish(c, "tcp_connect failed");
  }
  const auto deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit_s));
  // c.error is written with c.done (finish), read here only once c.done is set.
  while (!c.done.load() && Clock::now() < deadline) {
#ifdef LWIP_CHOICE_PACKAGED
    std::this_thread::sleep_for(1ms);
#else
    drive_once();
#endif
  }
  {
    CoreLock lock;
    if (!c.done.load()) finish(c, "over the time limit");
    for (tcp_pcb** pcb : {&c.client, &c.server}) {
      if (*pcb != nullptr) {
        tcp_arg(*pcb, nullptr);
        tcp_err(*pcb, nullptr);
        tcp_recv(*pcb, nullptr);
        tcp_sent(*pcb, nullptr);
        tcp_abort(*pcb);
        *pcb = nullptr;
      }
    }
    if (c.listener != nullptr) tcp_close(c.listener);
    c.listener = nullptr;
  }
  wire_clear();
  return c.error.empty();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto k = static_cast<std::size_t>(p * static_cast<double>(v.size()) + 0.999999);
  k = std::clamp<std::size_t>(k, 1, v.size());
  return v[k - 1];
}

void setup_netifs() {
  CoreLock lock;
  for (int i = 0; i < 2; ++i) {
    ip4_addr_t addr, mask, gw;
    IP4_ADDR(&addr, 10, 0, 0, static_cast<u8_t>(i + 1));
    IP4_ADDR(&mask, 255, 255, 255, 255);
    IP4_ADDR(&gw, 10, 0, 0, static_cast<u8_t>(2 - i));
#ifdef LWIP_CHOICE_PACKAGED
    netif_add(&netifs[i], &addr, &mask, &gw, nullptr, netif_setup, tcpip_input);
#else
    netif_add(&netifs[i], &addr, &mask, &gw, nullptr, netif_setup, ip_input);
#endif
    netif_set_up(&netifs[i]);
    netif_set_link_up(&netifs[i]);
  }
}

[[noreturn]] void usage(int code) {
  std::fprintf(code ? stderr : stdout,
               "usage: coral-lwip-choice-{source,packaged} [--bulk-mib N] [--rounds N] [--reps N] [--limit S]\n"
               "  --bulk-mib N  bytes of each bulk transfer, MiB [64]\n"
               "  --rounds N    request/response rounds [2000]\n"
               "  --reps N      runs of the loss case, with and without the loss [3]\n"
               "  --limit S     time limit of every case, seconds [20]\n");
  std::exit(code);
}

}  // namespace


int main(int argc, char** argv) {
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::uint64_t bulk_mib = 64;
  int rounds = 2000, reps = 3;
  double limit = 20;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "-h" || a == "--help") usage(0);
    if (i + 1 >= argc) usage(2);
    const char* v = argv[++i];
    if (a == "--bulk-mib")
      bulk_mib = std::strtoull(v, nullptr, 10);
    else if (a == "--rounds")
      rounds = std::atoi(v);
    else if (a == "--reps")
      reps = std::atoi(v);
    else if (a == "--limit")
      limit = std::atof(v);
    else
      usage(2);
  }
  if (bulk_mib < 1 || rounds < 1 || reps < 1 || limit <= 0) usage(2);

#ifdef LWIP_CHOICE_PACKAGED
  tcpip_init(nullptr, nullptr);
  std::thread wire_runner(wire_thread);
#else
  lwip_init();
#endif
  setup_netifs();

  std::printf("variant\t%s\n", kVariant);
  std::printf(
      "config\tNO_SYS=%d TCP_WND=%lu TCP_SND_BUF=%lu TCP_MSS=%d (interface MTU %d: 1380 on the wire) "
      "TCP_TMR_INTERVAL=%d ms rto_floor=%d ticks\n",
      NO_SYS, static_cast<unsigned long>(TCP_WND), static_cast<unsigned long>(TCP_SND_BUF), TCP_MSS, kMtu,
      TCP_TMR_INTERVAL, kMinRtoTicks);
  std::fflush(stdout);
  int failures = 0;
  auto fail = [&](const char* what, const Case& c) {
    ++failures;
    std::printf("failed\t%s: %s\n", what, c.error.c_str());
    std::fflush(stdout);
  };

  // 1. bulk
  for (const auto& [name, delay] : {std::pair{"0", Clock::duration(0us)}, std::pair{"0.5", Clock::duration(500us)},
                                    std::pair{"2", Clock::duration(2000us)}}) {
    std::fprintf(stderr, "%s: bulk %llu MiB, one-way delay %s ms\n", kVariant,
                 static_cast<unsigned long long>(bulk_mib), name);
    Case c;
    c.kind = Kind::bulk;
    c.total = bulk_mib << 20;
    const double cpu0 = cpu_seconds();
    if (run(c, delay, limit)) {
      const double s = ms_between(c.t_start, c.t_end) / 1000;
      std::printf("bulk_mbps_%sms\t%.0f\n", name, static_cast<double>(c.total) * 8 / s / 1e6);
      // CPU of every thread over the case (connection set-up and tear-down
      // included), per MiB moved: less dependent on other load than Mbit/s.
      std::printf("bulk_cpu_ms_per_mib_%sms\t%.2f\n", name,
                  (cpu_seconds() - cpu0) * 1000 / static_cast<double>(bulk_mib));
    } else {
      fail("bulk", c);
    }
    std::fflush(stdout);
  }

  // 2. request/response
  {
    std::fprintf(stderr, "%s: %d request/response rounds, one-way delay 0.1 ms\n", kVariant, rounds);
    Case c;
    c.kind = Kind::rr;
    c.rounds = rounds;
    c.warmup = 20;
    if (run(c, 100us, limit) && static_cast<int>(c.latencies_us.size()) == rounds) {
      std::printf("rr_p50_us\t%.0f\n", percentile(c.latencies_us, 0.5));
      std::printf("rr_p99_us\t%.0f\n", percentile(c.latencies_us, 0.99));
      std::printf("rr_max_us\t%.0f\n", percentile(c.latencies_us, 1.0));
    } else {
      if (c.error.empty()) c.error = "rounds missing";
      fail("rr", c);
    }
    std::fflush(stdout);
  }

  // 3. tail loss
  {
    std::vector<double> clean, lossy;
    for (int r = 0; r < reps; ++r) {
      for (const bool lose : {false, true}) {
        std::fprintf(stderr, "%s: 16 x 64 KiB bursts, one-way delay 0.5 ms, %s (run %d of %d)\n", kVariant,
                     lose ? "last segment of burst 8 lost" : "no loss", r + 1, reps);
        Case c;
        c.kind = Kind::loss;
        c.burst = 64 * 1024;
        c.total = 16 * c.burst;
        c.drop_burst = lose ? 8 : 0;
        int dropped = 0;
        const bool ok = run(c, 500us, limit);
        {
          std::lock_guard lock(wire.mu);
          dropped = wire.dropped;
        }
        if (ok && lose && dropped != 1) c.error = "the segment to lose was not seen";
        if (ok && c.error.empty()) {
          (lose ? lossy : clean).push_back(ms_between(c.t_start, c.t_end));
        } else {
          fail(lose ? "loss (with)" : "loss (without)", c);
        }
      }
    }
    if (!clean.empty()) std::printf("loss_ms_without\t%.1f\n", median(clean));
    if (!lossy.empty()) std::printf("loss_ms_with\t%.1f\n", median(lossy));
    if (!clean.empty() && !lossy.empty()) {
      std::printf("loss_penalty_ms\t%.1f\n", median(lossy) - median(clean));
      std::string all;
      for (double v : lossy) all += (all.empty() ? "" : " ") + std::to_string(static_cast<int>(v + 0.5));
      std::printf("loss_ms_with_runs\t%s\n", all.c_str());
    }
  }
  {
    std::lock_guard lock(wire.mu);
    std::printf("wire_packets\t%llu\n", static_cast<unsigned long long>(wire.packets));
    std::printf("wire_input_retries\t%llu\n", static_cast<unsigned long long>(wire.input_retries));
  }
  std::fflush(stdout);

#ifdef LWIP_CHOICE_PACKAGED
  wire_stop.store(true);
  wire.cv.notify_all();
  wire_runner.join();
  // lwIP's tcpip thread has no way to stop; leave without tearing it down.
  std::_Exit(failures ? 1 : 0);
#else
  return failures ? 1 : 0;
#endif
}
