#pragma once
// Why MeshService.Register refused, as the colony tells it and members read
// it: a response metadata field (Connect unary: a header), so that a member
// decides on a value, never on an error's text.

#include <string_view>

namespace coral::mesh {

inline constexpr std::string_view kRefusalField = "coral-refusal";
// The key was revoked by the colony's operator (coral colony revoke): final.
inline constexpr std::string_view kRefusalRevoked = "revoked";
// The colony secret did not match (or was rotated: coral colony rotate-secret).
inline constexpr std::string_view kRefusalWrongSecret = "wrong-secret";

}  // namespace coral::mesh
