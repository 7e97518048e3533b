#include "base/log.h"

#include "base/json_text.h"

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


// Text values are quoted when they would not read back as one token.
void append_text_value(std::string& out, std::string_view value) {
  const bool plain = !value.empty() && value.find_first_of(" \"=\t\n\r\\") == std::string_view::npos;
  if (plain) {
    out += value;
  } else {
    base::append_json_string(out, value);
  }
}

}  // namespace

std::expected<Level, std::string> parse_level(std::string_view name) {
  if (name == "debug") return Level::debug;
  if (name == "info") return Level::info;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "error") return Level::error;
  return std::unexpected("unknown log level \"" + std::string(name) + "\" (debug, info, warn, error)");
}

std::expected<Format, std::string> parse_format(std::string_view name) {
  if (name == "text") return Format::text;
  if (name == "json") return Format::json;
  return std::unexpected("unknown log format \"" + std::string(name) + "\" (text, json)");
}

std::string format_line(Format format, Level level, std::string_view message, std::initializer_list<Field> fields) {
  std::string line;
  if (format == Format::json) {
    line += "\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":";
    base::append_json_string(line, message);
    for (const Field& field : fields) {
      line += ',';
      base::append_json_string(line, field.key);
      line += ':';
      base::append_json_string(line, field.value);
    }
    return line;
  }
  line += "level=";
  line += level_name(level);
  line += " msg=";
  base::append_json_string(line, message);
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
