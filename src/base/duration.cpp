#include "base/duration.h"

#include <charconv>

#include "base/text.h"

namespace coral::base {

std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text) {
  auto invalid = [&](std::string why) {
    return std::unexpected("invalid duration " + base::quote(text) + ": " + why);
  };
  if (text.empty()) return invalid("empty");
  std::chrono::milliseconds total{0};
  std::string_view rest = text;
  while (!rest.empty()) {
    std::uint64_t number = 0;
    const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), number);
    if (ec != std::errc() || end == rest.data()) return invalid("expected a number");
    rest.remove_prefix(std::size_t(end - rest.data()));
    std::size_t unit_length = 0;
    while (unit_length < rest.size() && (rest[unit_length] < '0' || rest[unit_length] > '9')) ++unit_length;
    const std::string_view unit = rest.substr(0, unit_length);
    rest.remove_prefix(unit_length);
    if (number > 10'000'000'000ULL) return invalid("too long");
    if (unit.empty()) {
      if (total.count() != 0 || !rest.empty()) return invalid("a unit is missing");
      total += std::chrono::seconds(number);
    } else if (unit == "ms") {
      total += std::chrono::milliseconds(number);
    } else if (unit == "s") {
      total += std::chrono::seconds(number);
    } else if (unit == "m") {
      total += std::chrono::minutes(number);
    } else if (unit == "h") {
      total += std::chrono::hours(number);
    } else {
      return invalid("unknown unit " + base::quote(unit) + " (use ms, s, m or h)");
    }
  }
  return total;
}

std::string format_duration(std::chrono::milliseconds duration) {
  if (duration.count() == 0) return "0s";
  std::string out;
  auto take = [&](auto unit, std::string_view suffix) {
    const auto n = std::chrono::duration_cast<decltype(unit)>(duration);
    if (n.count() > 0) {
      out += std::to_string(n.count());
      out += suffix;
      duration -= n;
    }
  };
  take(std::chrono::hours(1), "h");
  take(std::chrono::minutes(1), "m");
  take(std::chrono::seconds(1), "s");
  take(std::chrono::milliseconds(1), "ms");
  return out;
}

}  // namespace coral::base
