#pragma once

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

namespace coral::base {

// "300s", "5m", "1h30m", "250ms" (units ms, s, m, h; a plain number means
// seconds). Errors name the input: invalid duration "5x": unknown unit "x".
std::expected<std::chrono::milliseconds, std::string> parse_duration(std::string_view text);
// The shortest of those forms: 300000 ms -> "5m", 1500 ms -> "1s500ms".
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace coral::base
