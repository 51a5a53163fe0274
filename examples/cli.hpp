// Command-line options for the examples: `--name value`, `--name=value` and `--flag`, each
// declared with its default, a help line and what values it accepts (a Range for numbers;
// for paths, whether the file or its directory must exist); `--help` lists them. A value out
// of range, a path that cannot be used, an option given twice or not declared: done() stops
// the program with exit status 2 and a message naming the option and the value, before it
// does anything. Header-only, examples only.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace examples {

/// The numbers an option accepts: from min (excluded when `above`) to max. The default
/// accepts every finite number.
struct Range {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool above = false;

  [[nodiscard]] bool contains(double v) const {
    return std::isfinite(v) && (above ? v > min : v >= min) && v <= max;
  }
  /// ">= 1", "> 0", "from 0 to 1"; "" for any number.
  [[nodiscard]] std::string text() const {
    const bool low = std::isfinite(min);
    const bool high = std::isfinite(max);
    if (low && high) return fmt::format("from {} to {}", min, max);
    if (low) return fmt::format("{} {}", above ? ">" : ">=", min);
    if (high) return fmt::format("<= {}", max);
    return "";
  }
};

inline Range at_least(double min) {
  return {.min = min};
}
inline Range positive() {
  return {.min = 0, .above = true};
}
inline Range between(double min, double max) {
  return {.min = min, .max = max};
}

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

  /// Any text ('' included).
  std::string text(const std::string& name, const std::string& fallback, const std::string& help) {
    help_.push_back(fmt::format("  --{:<22} {} (default: {})", name + " S", help,
                                fallback.empty() ? "none" : fallback));
    return find(name).value_or(fallback);
  }

  /// A file to read: it must exist and be a regular file. '' means none.
  std::string input_file(const std::string& name, const std::string& fallback,
                         const std::string& help) {
    const std::string path = text(name, fallback, help);
    if (path.empty()) return path;
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (!std::filesystem::exists(status))
      reject(name, path, "no such file");
    else if (!std::filesystem::is_regular_file(status))
      reject(name, path, "not a regular file");
    return path;
  }

  /// A file to write: its directory must exist and be writable, and the path must not be a
  /// directory. '' means none.
  std::string output_file(const std::string& name, const std::string& fallback,
                          const std::string& help) {
    const std::string path = text(name, fallback, help);
    if (!path.empty()) check_output(name, path, path);
    return path;
  }

  /// The start of the names of files to write (`--out results/run1` writes
  /// results/run1.csv, ...): not empty, and its directory must exist and be writable.
  std::string output_prefix(const std::string& name, const std::string& fallback,
                            const std::string& help) {
    const std::string prefix = text(name, fallback, help);
    if (prefix.empty())
      reject(name, prefix, "the file names need a prefix");
    else
      check_output(name, prefix, prefix + ".x");
    return prefix;
  }

  int64_t integer(const std::string& name, int64_t fallback, const std::string& help,
                  const Range& range = {}) {
    help_.push_back(option_help(name + " N", help, range, fallback));
    const auto v = find(name);
    return v ? parse<int64_t>(name, *v, range).value_or(fallback) : fallback;
  }

  double real(const std::string& name, double fallback, const std::string& help,
              const Range& range = {}) {
    help_.push_back(option_help(name + " X", help, range, fallback));
    const auto v = find(name);
    return v ? parse<double>(name, *v, range).value_or(fallback) : fallback;
  }

  /// A comma-separated list of integers, each in `range`: `--lengths 10,50,100`.
  std::vector<int64_t> integers(const std::string& name, const std::vector<int64_t>& fallback,
                                const std::string& help, const Range& range = {}) {
    help_.push_back(
        option_help(name + " N,N,...", help, range, fmt::format("{}", fmt::join(fallback, ","))));
    const auto v = find(name);
    if (!v) return fallback;
    std::vector<int64_t> out;
    std::string_view rest(*v);
    while (!rest.empty()) {
      const size_t comma = rest.find(',');
      const std::string item(rest.substr(0, comma));
      int64_t n = 0;
      const std::string why = check_number(item, range, n);
      if (!why.empty()) {
        reject(name, *v, fmt::format("item '{}': {}", item, why));
        return fallback;
      }
      out.push_back(n);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (out.empty()) {
      reject(name, *v, "needs at least one value");
      return fallback;
    }
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
      if (!known) {
        reject(name, *v, fmt::format("'{}' is not one of {}", item, fmt::join(allowed, ", ")));
        return fallback;
      }
      out.push_back(item);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    if (out.empty()) {
      reject(name, *v, "needs at least one value");
      return fallback;
    }
    return out;
  }

  /// Call after declaring every option: prints the help and exits on --help; exits with
  /// status 2 and a message on the first bad value, or on an option that was not declared.
  void done() {
    for (const Token& t : tokens_)
      if (t.text == "--help" || t.text == "-h") {
        fmt::print("{}\n\nusage: {} [options]\n{}\n", about_, program_, fmt::join(help_, "\n"));
        std::exit(0);
      }
    if (error_) fail(*error_);
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
  // Keeps the first bad value for done() ("--hidden='0': must be >= 1"), so that --help
  // still works beside it.
  void reject(const std::string& name, const std::string& value, const std::string& why) {
    if (!error_) error_ = fmt::format("--{}='{}': {}", name, value, why);
  }

  template <class V>
  static std::string option_help(const std::string& option, const std::string& help,
                                 const Range& range, const V& fallback) {
    const std::string accepts = range.text();
    return fmt::format("  --{:<22} {}{} (default: {})", option, help,
                       accepts.empty() ? "" : ", " + accepts, fallback);
  }

  // The value of --name, or nullopt when it is not given; an option given twice is an error
  // (which of the two was meant?).
  std::optional<std::string> find(const std::string& name) {
    const std::string key = "--" + name;
    std::optional<std::string> value;
    for (size_t i = 0; i < tokens_.size(); ++i) {
      Token& t = tokens_[i];
      const bool inline_value = t.text.rfind(key + "=", 0) == 0;
      if (!inline_value && t.text != key) continue;
      if (value) {
        const std::string again = inline_value             ? t.text.substr(key.size() + 1)
                                  : i + 1 < tokens_.size() ? tokens_[i + 1].text
                                                           : "";
        if (!error_) error_ = fmt::format("{} is given twice: '{}' and '{}'", key, *value, again);
        return value;
      }
      if (inline_value) {
        t.used = true;
        value = t.text.substr(key.size() + 1);
        continue;
      }
      if (i + 1 >= tokens_.size()) {
        if (!error_) error_ = fmt::format("{} needs a value", key);
        return value;
      }
      t.used = tokens_[i + 1].used = true;
      value = tokens_[++i].text;
    }
    return value;
  }

  // Why `text` is not a number in `range` ("" when it is one: then it is in `v`).
  template <class V>
  static std::string check_number(const std::string& text, const Range& range, V& v) {
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec == std::errc::result_out_of_range) return "too large";
    if (ec != std::errc() || ptr != text.data() + text.size()) return "not a number";
    if (!std::isfinite(double(v))) return "must be a finite number";
    if (!range.contains(double(v))) return "must be " + range.text();
    return "";
  }

  // The number `text`, or nullopt (and the error kept for done()).
  template <class V>
  std::optional<V> parse(const std::string& name, const std::string& text, const Range& range) {
    V v{};
    const std::string why = check_number(text, range, v);
    if (why.empty()) return v;
    reject(name, text, why);
    return std::nullopt;
  }

  // `path` (the value of --name, `given`) can be created: its directory exists and is
  // writable, and it is not a directory itself.
  void check_output(const std::string& name, const std::string& given, const std::string& path) {
    const std::filesystem::path p(path);
    const std::filesystem::path dir = p.parent_path().empty() ? "." : p.parent_path();
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
      reject(name, given, fmt::format("the directory '{}' does not exist", dir.string()));
    else if (::access(dir.c_str(), W_OK) != 0)
      reject(name, given, fmt::format("the directory '{}' is not writable", dir.string()));
    else if (std::filesystem::is_directory(p, ec))
      reject(name, given, "is a directory");
  }

  std::string about_;
  std::string program_;
  std::vector<Token> tokens_;
  std::vector<std::string> help_;
  std::optional<std::string> error_;  // the first bad value, reported by done()
};

}  // namespace examples
