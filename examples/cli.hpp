// Command-line options for the examples: `--name value`, `--name=value` and `--flag`, each
// declared with its default and a help line; `--help` lists them. Header-only, examples only.
#pragma once

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace examples {

class Args {
 public:
  Args(int argc, char** argv, std::string about) : about_(std::move(about)) {
    program_ = argc > 0 ? argv[0] : "example";
    for (int i = 1; i < argc; ++i) tokens_.push_back({argv[i], false});
  }

  /// True when `--name` is given.
  bool flag(const std::string& name, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {}", name, help));
    for (Token& t : tokens_)
      if (t.text == "--" + name) {
        t.used = true;
        return true;
      }
    return false;
  }

  std::string text(const std::string& name, const std::string& fallback, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {} (default: {})", name + " S", help,
                                fallback.empty() ? "none" : fallback));
    return find(name).value_or(fallback);
  }

  int64_t integer(const std::string& name, int64_t fallback, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {} (default: {})", name + " N", help, fallback));
    const auto v = find(name);
    return v ? parse<int64_t>(name, *v) : fallback;
  }

  double real(const std::string& name, double fallback, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {} (default: {})", name + " X", help, fallback));
    const auto v = find(name);
    return v ? parse<double>(name, *v) : fallback;
  }

  /// A comma-separated list of integers: `--lengths 10,50,100`.
  std::vector<int64_t> integers(const std::string& name, const std::vector<int64_t>& fallback,
                                const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {} (default: {})", name + " N,N,...", help,
                                fmt::join(fallback, ",")));
    const auto v = find(name);
    if (!v) return fallback;
    std::vector<int64_t> out;
    std::string_view rest(*v);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      out.push_back(parse<int64_t>(name, std::string(rest.substr(0, comma))));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (out.empty()) fail(fmt::format("--{} needs at least one value", name));
    return out;
  }

  /// A comma-separated list of names, each one of `allowed`: `--models lstm,gru`. Names are
  /// matched whole (no prefixes or substrings).
  std::vector<std::string> names(const std::string& name, const std::vector<std::string>& fallback,
                                 const std::vector<std::string>& allowed, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {}, of {} (default: {})", name + " A,B,...", help,
                                fmt::join(allowed, ","), fmt::join(fallback, ",")));
    const auto v = find(name);
    if (!v) return fallback;
    std::vector<std::string> out;
    std::string_view rest(*v);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string item(rest.substr(0, comma));
      bool known = false;
      for (const std::string& a : allowed) known = known || item == a;
      if (!known)
        fail(fmt::format("--{}: '{}' is not one of {}", name, item, fmt::join(allowed, ", ")));
      out.push_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (out.empty()) fail(fmt::format("--{} needs at least one value", name));
    return out;
  }

  /// Call after declaring every option: prints the help and exits on --help, exits with an
  /// error on an option that was not declared.
  void done() {
    for (const Token& t : tokens_)
      if (t.text == "--help" || t.text == "-h") {
        fmt::print("{}\n\nusage: {} [options]\n{}\n", about_, program_, fmt::join(help_, "\n"));
        std::exit(0);
      }
    for (const Token& t : tokens_)
      if (!t.used) fail(fmt::format("unknown argument '{}' (try --help)", t.text));
  }

 private:
  struct Token {
    std::string text;
    bool used;
  };

  [[noreturn]] void fail(const std::string& message) const {
    fmt::print(stderr, "{}: {}\n", program_, message);
    std::exit(2);
  }

  std::optional<std::string> find(const std::string& name) {
    const std::string key = "--" + name;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      Token& t = tokens_[i];
      if (t.text.rfind(key + "=", 0) == 0) {
        t.used = true;
        return t.text.substr(key.size() + 1);
      }
      if (t.text == key) {
        if (i + 1 >= tokens_.size()) fail(fmt::format("{} needs a value", key));
        t.used = tokens_[i + 1].used = true;
        return tokens_[i + 1].text;
      }
    }
    return std::nullopt;
  }

  template <class V>
  V parse(const std::string& name, const std::string& text) const {
    V v{};
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size())
      fail(fmt::format("--{}: '{}' is not a number", name, text));
    return v;
  }

  std::string about_;
  std::string program_;
  std::vector<Token> tokens_;
  std::vector<std::string> help_;
};

}  // namespace examples
