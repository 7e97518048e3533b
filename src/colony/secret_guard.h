#pragma once
// Wrong colony secrets at MeshService.Register: a limit per caller, and
// warnings that stay a handful of lines whatever the rate.
//
// - Per source (on the host transport, the caller's IP address), a token
//   bucket of wrong attempts: kBurst at once, then one per kRefill. A
//   source whose bucket is empty is refused before its secret is even
//   compared (resource_exhausted, with the time to wait), so guessing is
//   bounded by the refill rate, not by how fast the colony answers.
//   A refused attempt earns nothing: the bucket refills only while the
//   source pauses (a source that keeps hammering stays refused). Right
//   secrets cost nothing; a correct Register from a limited source waits
//   like the others (otherwise the limit would still be an oracle).
// - Reports: the first wrong attempt from a source in a window of
//   kReportWindow is reported at once (the caller logs it in full); the
//   others of the window are counted, and sweep() returns one summary per
//   source whose window ended ("N more refused from A in the last 10 s":
//   wrong secrets, other colony ids, refused by the limit).
// - Memory: at most kMaxSources sources are tracked; beyond that, new
//   sources share one bucket (they are limited together). Sources idle for a
//   window with a full bucket are forgotten by sweep().
//
// Sans-I/O and not thread-safe: time is passed in; MeshService serializes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/token_bucket.h"

namespace coral::colony {

class SecretGuard {
 public:
  using TimePoint = std::chrono::system_clock::time_point;
  using Duration = std::chrono::system_clock::duration;

  static constexpr std::uint32_t kBurst = 10;
  static constexpr std::chrono::seconds kRefill{1};
  static constexpr std::chrono::seconds kReportWindow{10};
  static constexpr std::size_t kMaxSources = 4096;
  // The key of the bucket shared by sources beyond kMaxSources.
  static constexpr std::string_view kOverflowSource = "(other sources)";

  // How long `source` must wait before its next Register is looked at;
  // nullopt when it may go ahead. A refused attempt is counted in the
  // source's report.
  std::optional<Duration> check(std::string_view source, TimePoint now);

  // Records a wrong secret from `source`; true when it is the first of its
  // report window (log it in full), false when it was counted for sweep().
  bool record_wrong_secret(std::string_view source, TimePoint now);
  // The same for a Register that named another colony: reported the same
  // way (a flood of them is a flood of log lines too), but not limited (it
  // guesses nothing).
  bool record_wrong_colony(std::string_view source, TimePoint now);
  // A Heartbeat refused (a known peer id with another key): reported in a
  // window of its own, the same way, and not limited.
  bool record_refused_heartbeat(std::string_view source, TimePoint now);

  struct Summary {
    std::string source;
    std::uint64_t wrong = 0;         // wrong secrets in the window, after the line logged
    std::uint64_t wrong_colony = 0;  // other colony ids in the window, after the line logged
    std::uint64_t limited = 0;       // Registers refused by the limit in the window
    std::uint64_t total() const { return wrong + wrong_colony + limited; }
    Duration window{};
    std::uint64_t refused_heartbeats = 0;  // in the heartbeat window, after the line logged
    Duration heartbeat_window{};
  };
  // Summaries of the windows that ended by `now` (only those with something
  // beyond the first line to say), and forgets idle sources. `close_all`
  // ends every open window (at shutdown).
  std::vector<Summary> sweep(TimePoint now, bool close_all = false);

  std::size_t tracked() const { return sources_.size(); }

 private:
  struct Source {
    base::TokenBucket<std::chrono::system_clock> bucket;  // wrong attempts left
    std::optional<TimePoint> window_start{};  // set while a report window is open
    std::uint64_t wrong = 0;
    std::uint64_t wrong_colony = 0;
    std::uint64_t limited = 0;
    std::optional<TimePoint> heartbeat_window_start{};  // set while a heartbeat report window is open
    std::uint64_t refused_heartbeats = 0;
  };
  // Opens a report window (true: report this one in full) or counts in it.
  static bool report(std::optional<TimePoint>& window_start, TimePoint now, std::uint64_t& counter);
  Source& source_for(std::string_view source, TimePoint now);

  std::unordered_map<std::string, Source> sources_;
};

}  // namespace coral::colony
