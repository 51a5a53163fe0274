// safetensors reading (validate, then convert) and atomic writing.
#include "rewind/core/safetensors.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts need byte swapping");

constexpr uint64_t kMaxHeaderBytes = uint64_t(100) << 20;  // as the reference implementation

struct Entry {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0;
  uint64_t end = 0;
};

size_t dtype_size(const std::string& dtype) {
  if (dtype == "F32") return 4;
  if (dtype == "F64") return 8;
  return 0;
}

bool is_known_dtype(const std::string& dtype) {
  static const char* known[] = {"BOOL", "U8",  "I8",  "I16", "U16", "F16",     "BF16",   "I32",
                                "U32",  "F32", "F64", "I64", "U64", "F8_E5M2", "F8_E4M3"};
  return std::find(std::begin(known), std::end(known), dtype) != std::end(known);
}

std::vector<std::byte> read_file(const std::string& path) {
  // A directory opens as a stream on Linux, and tellg then gives a size of 2^63 - 1: check
  // the kind of file first (a missing file is left to the open below, which names errno).
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!ec && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status))
    throw IoError(fmt::format(
        "'{}': cannot read: {}", path,
        std::filesystem::is_directory(status) ? "it is a directory" : "it is not a regular file"));
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw IoError(fmt::format("'{}': cannot open for reading: {}", path, std::strerror(errno)));
  std::vector<std::byte> bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) throw IoError(fmt::format("'{}': cannot determine the file size", path));
  in.seekg(0, std::ios::beg);
  bytes.resize(size_t(size));
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size))
    throw IoError(fmt::format("'{}': read failed after {} of {} bytes", path, in.gcount(), size));
  return bytes;
}

// nlohmann-json keeps the last of two equal keys in an object without a word; a header that
// lists a tensor (or a tensor's dtype, or a metadata key) twice is ambiguous, so it is an
// error. Called by the parser on every event; a set of keys per open object.
class DuplicateKeyCheck {
 public:
  explicit DuplicateKeyCheck(const std::string& src) : src_(&src) {}

  bool operator()(int depth, nlohmann::json::parse_event_t event, const nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if (event == Event::object_start) open_.emplace_back();
    if (event == Event::object_end) open_.pop_back();
    if (event != Event::key) return true;
    const auto& key = parsed.get_ref<const std::string&>();
    if (depth == 1) tensor_ = key;
    if (!open_.back().insert(key).second) {
      if (depth == 1 && key == "__metadata__")
        throw IoError(fmt::format("'{}': the header has two '__metadata__' entries", *src_));
      if (depth == 1)
        throw IoError(fmt::format("'{}': the header lists tensor '{}' twice", *src_, key));
      throw IoError(
          fmt::format("'{}': '{}' has the key '{}' twice in the header", *src_, tensor_, key));
    }
    return true;
  }

 private:
  const std::string* src_;
  std::vector<std::set<std::string>> open_;  // the keys seen in each object being parsed
  std::string tensor_;                       // the top-level key being parsed
};

// Parses and validates the header; returns the entries and the start of the data section.
std::vector<Entry> parse_header(std::span<const std::byte> bytes, const std::string& src,
                                size_t& data_start, nlohmann::json* metadata) {
  if (bytes.size() < 8)
    throw IoError(fmt::format("'{}': truncated file: {} bytes, fewer than the 8-byte header length",
                              src, bytes.size()));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  if (n > bytes.size() - 8)
    throw IoError(fmt::format(
        "'{}': header length {} runs past the end of the file ({} bytes after the length)", src, n,
        bytes.size() - 8));
  if (n > kMaxHeaderBytes)
    throw IoError(
        fmt::format("'{}': header length {} exceeds the {}-byte limit", src, n, kMaxHeaderBytes));
  data_start = 8 + size_t(n);
  const uint64_t data_size = bytes.size() - data_start;
  const char* text = reinterpret_cast<const char*>(bytes.data() + 8);
  nlohmann::json header;
  try {
    header = nlohmann::json::parse(text, text + n, DuplicateKeyCheck{src});
  } catch (const nlohmann::json::exception& e) {
    // parse_error, and also out_of_range for a number too large for a double (1e400).
    throw IoError(fmt::format("'{}': malformed JSON header: {}", src, e.what()));
  }
  if (!header.is_object()) throw IoError(fmt::format("'{}': the header is not a JSON object", src));

  std::vector<Entry> entries;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object())
        throw IoError(fmt::format("'{}': __metadata__ is not a JSON object", src));
      for (auto m = v.begin(); m != v.end(); ++m)
        if (!m.value().is_string())
          throw IoError(fmt::format("'{}': __metadata__ value '{}' is not a string", src, m.key()));
      if (metadata) *metadata = v;
      continue;
    }
    if (!v.is_object())
      throw IoError(fmt::format("'{}': tensor '{}' is not described by a JSON object", src, name));
    Entry e;
    e.name = name;
    const auto dtype = v.find("dtype");
    const auto shape = v.find("shape");
    const auto offsets = v.find("data_offsets");
    if (dtype == v.end() || !dtype->is_string())
      throw IoError(fmt::format("'{}': tensor '{}' has no string 'dtype'", src, name));
    e.dtype = dtype->get<std::string>();
    if (dtype_size(e.dtype) == 0) {
      if (is_known_dtype(e.dtype))
        throw IoError(fmt::format(
            "'{}': tensor '{}' has dtype {}, which rewind does not load (F32 and F64 only)", src,
            name, e.dtype));
      throw IoError(fmt::format("'{}': tensor '{}' has unknown dtype '{}'", src, name, e.dtype));
    }
    if (shape == v.end() || !shape->is_array())
      throw IoError(fmt::format("'{}': tensor '{}' has no 'shape' array", src, name));
    if (shape->size() > size_t(Shape::kMaxRank))
      throw IoError(fmt::format("'{}': tensor '{}' has rank {}; rewind supports up to {}", src,
                                name, shape->size(), Shape::kMaxRank));
    uint64_t numel = 1;
    for (const auto& d : *shape) {
      if (!d.is_number_unsigned())
        throw IoError(
            fmt::format("'{}': tensor '{}' has a shape entry that is not a "
                        "non-negative integer: {}",
                        src, name, d.dump()));
      const uint64_t dim = d.get<uint64_t>();
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / 8 / dim)
        throw IoError(
            fmt::format("'{}': tensor '{}' has an absurd shape {}", src, name, shape->dump()));
      numel *= dim;
      e.shape.push_back(int64_t(dim));
    }
    if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      throw IoError(
          fmt::format("'{}': tensor '{}' needs 'data_offsets' [begin, end] of "
                      "non-negative integers",
                      src, name));
    e.begin = (*offsets)[0].get<uint64_t>();
    e.end = (*offsets)[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw IoError(fmt::format(
          "'{}': tensor '{}' has data_offsets [{}, {}) outside the data section of {} bytes", src,
          name, e.begin, e.end, data_size));
    const uint64_t need = numel * dtype_size(e.dtype);
    if (e.end - e.begin != need)
      throw IoError(fmt::format(
          "'{}': tensor '{}' of dtype {} and shape [{}] needs {} bytes but its offsets span {}",
          src, name, e.dtype, fmt::join(e.shape, ", "), need, e.end - e.begin));
    entries.push_back(std::move(e));
  }
  // The data section must be covered exactly: no overlaps, no gaps.
  std::vector<const Entry*> order;
  order.reserve(entries.size());
  for (const Entry& e : entries) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    if (order[i]->begin < covered)
      throw IoError(fmt::format("'{}': tensors '{}' and '{}' overlap in the data section", src,
                                order[i - 1]->name, order[i]->name));
    if (order[i]->begin > covered)
      throw IoError(fmt::format("'{}': bytes [{}, {}) of the data section belong to no tensor", src,
                                covered, order[i]->begin));
    covered = order[i]->end;
  }
  if (covered != data_size)
    throw IoError(fmt::format("'{}': the data section has {} bytes but its tensors cover only {}",
                              src, data_size, covered));
  return entries;
}

template <class Src, class Dst>
void convert(const std::byte* from, Dst* to, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    Src v;
    std::memcpy(&v, from + i * sizeof(Src), sizeof(Src));
    to[i] = Dst(v);
  }
}

std::map<std::string, std::string> metadata_strings(const nlohmann::json& meta) {
  std::map<std::string, std::string> out;
  if (meta.is_object())
    for (auto it = meta.begin(); it != meta.end(); ++it)
      out[it.key()] = it.value().get<std::string>();
  return out;
}

}  // namespace

template <Scalar T>
std::map<std::string, Tensor<T>> parse_safetensors(std::span<const std::byte> bytes,
                                                   const std::string& source,
                                                   std::map<std::string, std::string>* metadata) {
  size_t data_start = 0;
  nlohmann::json meta;
  const std::vector<Entry> entries =
      parse_header(bytes, source, data_start, metadata ? &meta : nullptr);
  std::map<std::string, Tensor<T>> out;
  for (const Entry& e : entries) {
    Tensor<T> t{Shape(std::span<const int64_t>(e.shape))};
    const std::byte* src = bytes.data() + data_start + e.begin;
    if (e.dtype == "F32")
      convert<float>(src, t.data(), size_t(t.numel()));
    else
      convert<double>(src, t.data(), size_t(t.numel()));
    out.emplace(e.name, std::move(t));
  }
  if (metadata) *metadata = metadata_strings(meta);
  return out;
}

template <Scalar T>
std::map<std::string, Tensor<T>> load_safetensors(const std::string& path,
                                                  std::map<std::string, std::string>* metadata) {
  const std::vector<std::byte> bytes = read_file(path);
  return parse_safetensors<T>(bytes, path, metadata);
}

std::map<std::string, std::string> load_safetensors_metadata(const std::string& path) {
  const std::vector<std::byte> bytes = read_file(path);
  size_t data_start = 0;
  nlohmann::json meta;
  parse_header(bytes, path, data_start, &meta);
  return metadata_strings(meta);
}

namespace {

// The mode a new file gets from open(path, O_CREAT, 0666): mkstemp makes 0600 files, which
// would make every checkpoint private whatever the umask says. The umask is read from
// /proc/self/status: umask() itself can only read it by changing it, which races with other
// threads creating files.
mode_t new_file_mode() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("Umask:", 0) == 0)
      return mode_t(0666) & ~mode_t(std::stoul(line.substr(6), nullptr, 8));
  return 0644;  // the usual umask, 022, when /proc is not there
}

// JSON text is UTF-8: a name or metadata string that is not would make the header unwritable
// (nlohmann-json throws type_error 316 when dumping it).
void check_utf8(const std::string& path, const std::string& text, const char* what,
                const std::string& key) {
  try {
    static_cast<void>(nlohmann::json(text).dump());
  } catch (const nlohmann::json::type_error& e) {
    throw IoError(fmt::format("'{}': {} '{}' is not valid UTF-8, which the JSON header needs ({})",
                              path, what, key, e.what()));
  }
}

}  // namespace

template <Scalar T>
void save_safetensors(const std::string& path, const std::map<std::string, Tensor<T>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  for (const auto& [key, value] : metadata) {
    check_utf8(path, key, "metadata key", key);
    check_utf8(path, value, "the metadata value of", key);
  }
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    if (name == "__metadata__")
      throw IoError(fmt::format("'{}': '__metadata__' cannot be a tensor name", path));
    check_utf8(path, name, "tensor name", name);
    const uint64_t bytes = uint64_t(t.numel()) * sizeof(T);
    header[name] = {
        {"dtype", std::is_same_v<T, float> ? "F32" : "F64"},
        {"shape", std::vector<int64_t>(t.shape().dims().begin(), t.shape().dims().end())},
        {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // pad so the data starts 8-byte aligned
  const uint64_t n = text.size();

  // Write to a temporary file next to the target, then rename over it.
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  std::string tmpl = (dir / (target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0)
    throw IoError(fmt::format("'{}': cannot create a temporary file in '{}': {}", path,
                              dir.string(), std::strerror(errno)));
  auto fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw IoError(fmt::format("'{}': {} failed: {}; the previous file (if any) is unchanged", path,
                              what, std::strerror(err)));
  };
  // An existing file keeps its mode; a new one gets what open() would have given it. Best
  // effort: if this fails the checkpoint is still written, only private.
  struct stat existing {};
  static_cast<void>(::fchmod(
      fd, ::stat(path.c_str(), &existing) == 0 ? existing.st_mode & 07777 : new_file_mode()));
  auto write_all = [&](const void* data, size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const ssize_t w = ::write(fd, p, size);
      if (w < 0) {
        if (errno == EINTR) continue;
        fail("write");
      }
      p += w;
      size -= size_t(w);
    }
  };
  write_all(&n, 8);
  write_all(text.data(), text.size());
  for (const auto& [name, t] : tensors) write_all(t.data(), size_t(t.numel()) * sizeof(T));
  if (::fsync(fd) != 0) fail("fsync");
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw IoError(fmt::format("'{}': close failed: {}", path, std::strerror(err)));
  }
  if (::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmpl.c_str());
    throw IoError(fmt::format("'{}': rename from '{}' failed: {}", path, tmpl, std::strerror(err)));
  }
  // The rename is atomic; syncing the directory makes it durable across a power cut too. The
  // new file is complete either way, so a directory that cannot be synced (some file systems
  // refuse) is not an error.
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    static_cast<void>(::fsync(dir_fd));
    ::close(dir_fd);
  }
}

template std::map<std::string, Tensor<float>> load_safetensors<float>(
    const std::string&, std::map<std::string, std::string>*);
template std::map<std::string, Tensor<double>> load_safetensors<double>(
    const std::string&, std::map<std::string, std::string>*);
template std::map<std::string, Tensor<float>> parse_safetensors<float>(
    std::span<const std::byte>, const std::string&, std::map<std::string, std::string>*);
template std::map<std::string, Tensor<double>> parse_safetensors<double>(
    std::span<const std::byte>, const std::string&, std::map<std::string, std::string>*);
template void save_safetensors<float>(const std::string&,
                                      const std::map<std::string, Tensor<float>>&,
                                      const std::map<std::string, std::string>&);
template void save_safetensors<double>(const std::string&,
                                       const std::map<std::string, Tensor<double>>&,
                                       const std::map<std::string, std::string>&);

}  // namespace rwd
