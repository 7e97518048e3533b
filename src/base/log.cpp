#include "base/log.h"

#include "base/json_text.h"
#include "base/text.h"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace coral::log {
namespace {

Format g_format = Format::text;

std::string_view level_name(Level level) {
  switch (level) {
    case Level::debug: return "debug";
    case Level::info: return "info";
    case Level::warn: return "warn";
    case Level::error: return "error";
  }
  return "info";
}

spdlog::level::level_enum to_spdlog(Level level) {
  switch (level) {
    case Level::debug: return spdlog::level::debug;
    case Level::info: return spdlog::level::info;
    case Level::warn: return spdlog::level::warn;
    case Level::error: return spdlog::level::err;
  }
  return spdlog::level::info;
}


// Client-supplied text reaches log fields (components, ids, peers' error
// text). Nothing of it may reach the log raw that a terminal would act on:
// C0 controls, DEL, C1 controls (U+0080-U+009F; 0x9b alone is CSI on some
// terminals) and bytes that are not UTF-8 (text: \xNN, the byte, for the
// reader; JSON: \ufffd, so that the document stays valid).
void append_escaped(std::string& out, std::string_view text, Format format) {
  base::append_json_string(out, text, {.escape_terminal_controls = true,
                                       .invalid_bytes_as_hex = format == Format::text});
}

// Text values are quoted (and escaped) when they would not read back as one
// token or hold anything but printable ASCII and well-formed UTF-8 outside C1.
bool is_plain_text_value(std::string_view value) {
  if (value.empty()) return false;
  while (!value.empty()) {
    const auto c = static_cast<unsigned char>(value[0]);
    if (c >= 0x80) {
      const std::size_t n = base::utf8_sequence(value);
      if (n == 0 || (n == 2 && c == 0xC2 && static_cast<unsigned char>(value[1]) <= 0x9F)) return false;
      value.remove_prefix(n);
      continue;
    }
    if (c <= 0x20 || c == 0x7f || c == '"' || c == '=' || c == '\\') return false;
    value.remove_prefix(1);
  }
  return true;
}

void append_text_value(std::string& out, std::string_view value) {
  if (is_plain_text_value(value)) {
    out += value;
  } else {
    append_escaped(out, value, Format::text);
  }
}

}  // namespace

std::expected<Level, std::string> parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  return std::unexpected("unknown log level " + base::quote(name) + " (debug, info, warn, error)");
}

std::expected<Format, std::string> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::unexpected("unknown log format " + base::quote(name) + " (text, json)");
}

std::string format_line(Format format, Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  if (format == Format::json) {
    line += "\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":";
    append_escaped(line, message, Format::json);
    for (const Field& field : fields) {
      line += ',';
      append_escaped(line, field.key, Format::json);
      line += ':';
      append_escaped(line, field.value, Format::json);
    }
    return line;
  }
  line += "level=";
  line += level_name(level);
  line += " msg=";
  append_escaped(line, message, Format::text);
  for (const Field& field : fields) {
    line += ' ';
    line += field.key;
    line += '=';
    append_text_value(line, field.value);
  }
  return line;
}

void setup(Level level, Format format) {
  g_format = format;
  auto logger = spdlog::stderr_logger_mt("coral");
  // The time stamp comes from spdlog (UTC); the rest is ours.
  logger->set_pattern(format == Format::json ? "{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v}"
                                             : "%Y-%m-%dT%H:%M:%S.%eZ %v",
                      spdlog::pattern_time_type::utc);
  logger->set_level(to_spdlog(level));
  logger->flush_on(spdlog::level::debug);
  spdlog::set_default_logger(logger);
}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!spdlog::should_log(to_spdlog(level))) return;
  spdlog::log(to_spdlog(level), "{}", format_line(g_format, level, message, fields));
}

}  // namespace coral::log
