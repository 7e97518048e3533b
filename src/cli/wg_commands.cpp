#include "cli/wg_commands.h"

#include "cli/terminal.h"
#include "cli/wg_up_command.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <iostream>
#include <string>
#include <string_view>

#include "crypto/keys.h"

namespace coral::cli {

namespace {

// More than any key with whitespace around it; what is beyond is refused.
constexpr std::size_t kMaxKeyInput = 1024;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }


// wg genkey warns likewise: a key file that others can read is no secret.
void warn_if_stdout_is_world_accessible() {
  struct stat info {};
  if (::fstat(STDOUT_FILENO, &info) == 0 && S_ISREG(info.st_mode) && (info.st_mode & S_IRWXO) != 0) {
    std::cerr << "warning: writing a private key to a file that other users can access; "
                 "set umask 077 first (umask 077; coral wg genkey > private.key)\n";
  }
}

void print_key_line(Context& context, std::string key) {
  key += '\n';
  const bool written = write_stdout_unbuffered(key);
  crypto::wipe(key);
  if (!written) context.fail("cannot write to stdout");
}

void run_genkey(Context& context) {
  warn_if_stdout_is_world_accessible();
  print_key_line(context, crypto::SecretKey::generate().to_base64());
}

void run_pubkey(Context& context) {
  // A string so that crypto::wipe can clear it; sized once, never grown.
  std::string buffer(kMaxKeyInput + 1, '\0');
  std::size_t size = 0;
  while (size < buffer.size()) {
    const ssize_t got = ::read(STDIN_FILENO, buffer.data() + size, buffer.size() - size);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) {
      crypto::wipe(buffer);
      return context.fail("cannot read the private key from stdin");
    }
    if (got == 0) break;
    size += static_cast<std::size_t>(got);
  }
  std::string_view text(buffer.data(), size);
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);

  std::string error;
  std::string public_key;
  if (size > kMaxKeyInput) {
    error = "stdin holds more than a private key (over " + std::to_string(kMaxKeyInput) + " bytes)";
  } else if (text.empty()) {
    error = "no private key on stdin";
  } else if (auto key = crypto::SecretKey::from_base64(text); !key) {
    error = "the private key on stdin is not valid: it " + key.error();
  } else {
    public_key = key->public_key().to_base64();
  }
  crypto::wipe(buffer);
  if (!error.empty()) return context.fail(error, "usage: coral wg genkey | coral wg pubkey");
  print_key_line(context, std::move(public_key));
}

}  // namespace

void add_wg_commands(CLI::App& app, Context& context) {
  CLI::App* wg = app.add_subcommand("wg", "WireGuard: keys in wg's format (genkey, pubkey) and interfaces (up)");
  wg->require_subcommand(1);
  add_wg_key_commands(*wg, context);
  add_wg_up_command(*wg, context);
}

void add_wg_key_commands(CLI::App& wg, Context& context) {
  CLI::App* genkey = wg.add_subcommand("genkey", "Print a new private key (base64, as `wg genkey`) to stdout");
  genkey->footer("The key is secret: keep it in a file only you can read, e.g.\n"
                 "  umask 077; coral wg genkey > private.key");
  genkey->callback([&context] { run_genkey(context); });

  CLI::App* pubkey =
      wg.add_subcommand("pubkey", "Read a private key (base64) from stdin and print its public key (as `wg pubkey`)");
  pubkey->footer("Example:\n  coral wg genkey | tee private.key | coral wg pubkey > public.key");
  pubkey->callback([&context] { run_pubkey(context); });
}

}  // namespace coral::cli
