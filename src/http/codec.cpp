#include "http/codec.h"

namespace coral::http {

std::string_view to_string(CodecError error) {
  switch (error) {
    case CodecError::protocol: return "protocol";
    case CodecError::header_too_large: return "header_too_large";
    case CodecError::closed: return "closed";
  }
  return "unknown";
}

}  // namespace coral::http
