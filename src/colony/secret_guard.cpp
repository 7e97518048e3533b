#include "colony/secret_guard.h"

#include <algorithm>

namespace coral::colony {

SecretGuard::Source& SecretGuard::source_for(std::string_view source, TimePoint now) {
  auto it = sources_.find(std::string(source));
  if (it != sources_.end()) return it->second;
  const std::string key = sources_.size() < kMaxSources ? std::string(source) : std::string(kOverflowSource);
  auto [inserted, _] = sources_.try_emplace(key, Source{.bucket{base::TokenRate{kRefill, kBurst}, now}});
  return inserted->second;
}

std::optional<SecretGuard::Duration> SecretGuard::check(std::string_view source, TimePoint now) {
  auto it = sources_.find(std::string(source));
  if (it == sources_.end() && sources_.size() >= kMaxSources) it = sources_.find(std::string(kOverflowSource));
  if (it == sources_.end()) return std::nullopt;  // never wrong: nothing to limit
  Source& state = it->second;
  if (state.bucket.available(now) >= 1) return std::nullopt;
  // Refused: the time since the last attempt earns nothing, so that a
  // source that keeps trying stays refused; a pause of kRefill earns one.
  state.bucket.forfeit(now);
  if (!state.window_start) state.window_start = now;
  ++state.limited;
  const auto wait = std::chrono::duration_cast<Duration>(state.bucket.until_next(now));
  return std::max<Duration>(wait, std::chrono::milliseconds(1));
}

bool SecretGuard::report(std::optional<TimePoint>& window_start, TimePoint now, std::uint64_t& counter) {
  if (!window_start) {
    window_start = now;
    return true;
  }
  ++counter;
  return false;
}

bool SecretGuard::record_wrong_secret(std::string_view source, TimePoint now) {
  Source& state = source_for(source, now);
  state.bucket.spend(now);
  return report(state.window_start, now, state.wrong);
}

bool SecretGuard::record_wrong_colony(std::string_view source, TimePoint now) {
  Source& state = source_for(source, now);
  return report(state.window_start, now, state.wrong_colony);
}

bool SecretGuard::record_refused_heartbeat(std::string_view source, TimePoint now) {
  Source& state = source_for(source, now);
  return report(state.heartbeat_window_start, now, state.refused_heartbeats);
}

std::vector<SecretGuard::Summary> SecretGuard::sweep(TimePoint now, bool close_all) {
  std::vector<Summary> summaries;
  for (auto it = sources_.begin(); it != sources_.end();) {
    Source& state = it->second;
    Summary summary{.source = it->first};
    if (state.window_start && (close_all || now - *state.window_start >= kReportWindow)) {
      summary.wrong = state.wrong;
      summary.wrong_colony = state.wrong_colony;
      summary.limited = state.limited;
      summary.window = now - *state.window_start;
      state.window_start.reset();
      state.wrong = 0;
      state.wrong_colony = 0;
      state.limited = 0;
    }
    if (state.heartbeat_window_start && (close_all || now - *state.heartbeat_window_start >= kReportWindow)) {
      summary.refused_heartbeats = state.refused_heartbeats;
      summary.heartbeat_window = now - *state.heartbeat_window_start;
      state.heartbeat_window_start.reset();
      state.refused_heartbeats = 0;
    }
    if (summary.total() > 0 || summary.refused_heartbeats > 0) summaries.push_back(summary);
    if (!state.window_start && !state.heartbeat_window_start && state.bucket.full(now)) {
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
  std::sort(summaries.begin(), summaries.end(),
            [](const Summary& a, const Summary& b) { return a.source < b.source; });
  return summaries;
}

}  // namespace coral::colony
