#include "cli/colony_commands.h"

namespace coral::cli {

void add_colony_member_commands(CLI::App&, Context&) {}

}  // namespace coral::cli
