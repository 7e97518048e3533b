#pragma once
// "did you mean": the known word closest to a mistyped one.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coral::cli {

// The candidate closest to `word` by edit distance (insertions, deletions,
// substitutions and swaps of neighbours each count 1), when it is close:
// at most 2 edits, and fewer than half of `word`'s length. Ties go to the
// first candidate. Exact matches are not suggestions: nullopt.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& candidates);

// " — did you mean 'x'?", or "" when nothing is close.
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace coral::cli
