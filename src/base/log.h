#pragma once
// Structured logs on stderr: one line per event, a message and key=value
// fields, as text (`2026-11-24T21:40:00.123Z level=info msg="listening"
// address=http://127.0.0.1:8080`) or JSON (`--log-format json`). Built on
// spdlog, which filters levels and serializes writers.
//
// Secrets never go into fields: log the fact (e.g. "wrong colony secret"),
// not the value.

#include <expected>
#include <initializer_list>
#include <string>
#include <string_view>

namespace coral::log {

enum class Level { debug, info, warn, error };
enum class Format { text, json };

std::expected<Level, std::string> parse_level(std::string_view name);
std::expected<Format, std::string> parse_format(std::string_view name);

// Call once at start-up; before that, logs go out as info-level text.
void setup(Level level, Format format);

struct Field {
  std::string_view key;
  std::string value;
};

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void debug(std::string_view message, std::initializer_list<Field> fields = {}) { write(Level::debug, message, fields); }
inline void info(std::string_view message, std::initializer_list<Field> fields = {}) { write(Level::info, message, fields); }
inline void warn(std::string_view message, std::initializer_list<Field> fields = {}) { write(Level::warn, message, fields); }
inline void error(std::string_view message, std::initializer_list<Field> fields = {}) { write(Level::error, message, fields); }

// One line as `setup` would write it, without the time stamp (for tests).
std::string format_line(Format format, Level level, std::string_view message, std::initializer_list<Field> fields);

}  // namespace coral::log
