#pragma once
// Writing files so that a crash or a full disk never leaves half of one, and
// asking whether a directory takes writes at all. For coral's own files (the
// colony file, config.yaml, the proxy's state and stop report, the colony's
// registration status).

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace coral::base {

enum class Overwrite : std::uint8_t {
  no,   // fail if the file exists (atomically: no window where both writers win)
  yes,  // replace it
};

// Writes `content` to `path` so that readers see the old file or the new one,
// never a part: a temporary file beside it, created with O_CREAT|O_EXCL and
// `mode` from the start (never chmod-ed later, so secrets are never readable
// by others, not even briefly), written, fsync-ed, then renamed over `path`
// (renameat2 RENAME_NOREPLACE, or link + unlink where the file system lacks
// it, for Overwrite::no) and the directory fsync-ed. On any error the
// temporary file is removed and `path` is untouched. Errors name the path and
// the system error; with Overwrite::no, an existing file gives
// "<path> already exists".
std::expected<void, std::string> write_file_atomically(const std::filesystem::path& path, std::string_view content,
                                                       unsigned mode = 0600, Overwrite overwrite = Overwrite::yes);

// Whether a file can be written in `directory` right now: creates an
// unnamed file there, writes a block to it and syncs it, then drops it.
// The error of the first step that failed, or none.
std::error_code probe_writable(const std::filesystem::path& directory);

}  // namespace coral::base
