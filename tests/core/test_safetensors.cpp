// safetensors: round trips, atomic writes, and a clear error (never a crash or an over-read)
// for every kind of bad file.
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "support.hpp"

using namespace rwd;

namespace {

// A file from a header text and a data section, as the format lays them out.
std::vector<std::byte> make_file(const std::string& header, size_t data_bytes,
                                 std::optional<uint64_t> declared_length = {}) {
  std::vector<std::byte> out(8 + header.size() + data_bytes);
  const uint64_t n = declared_length.value_or(header.size());
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, header.data(), header.size());
  for (size_t i = 0; i < data_bytes; ++i) out[8 + header.size() + i] = std::byte(i);
  return out;
}

std::string parse_error(const std::vector<std::byte>& bytes) {
  try {
    parse_safetensors<double>(bytes, "bad.safetensors");
  } catch (const IoError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("safetensors round trip in float and double, with metadata", "[core][safetensors]") {
  const std::string dir = rwd::test::temp_dir("roundtrip");
  const std::string path = dir + "/roundtrip.safetensors";
  std::map<std::string, Tensor<float>> tensors;
  tensors.emplace("a.weight", Tensor<float>::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  tensors.emplace("b", Tensor<float>::from({}, {7}));
  tensors.emplace("empty", Tensor<float>::zeros({0, 4}));
  save_safetensors(path, tensors, {{"format", "pt"}});
  const auto back = load_safetensors<float>(path);
  REQUIRE(back.size() == 3);
  CHECK(back.at("a.weight").shape() == Shape{2, 3});
  CHECK(max_abs_diff(back.at("a.weight").view(), tensors.at("a.weight").view()) == 0.0);
  CHECK(back.at("b").rank() == 0);
  CHECK(back.at("b").item() == 7.0f);
  CHECK(back.at("empty").shape() == Shape{0, 4});
  CHECK(load_safetensors_metadata(path).at("format") == "pt");
  // Tensors and metadata from one read.
  std::map<std::string, std::string> meta;
  CHECK(load_safetensors<float>(path, &meta).size() == 3);
  CHECK(meta == std::map<std::string, std::string>{{"format", "pt"}});
  // F32 data loads into double.
  const auto as_double = load_safetensors<double>(path);
  CHECK(as_double.at("a.weight")[5] == 6.0);
  // F64 data loads into float, rounded to nearest.
  const std::string path64 = dir + "/f64.safetensors";
  std::map<std::string, Tensor<double>> doubles;
  doubles.emplace("x", Tensor<double>::from({3}, {0.1, -2.5, 1e-3}));
  save_safetensors(path64, doubles);
  {
    std::ifstream in(path64, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    REQUIRE(text.find(R"("dtype":"F64")") != std::string::npos);  // the file really holds F64
  }
  const auto as_float = load_safetensors<float>(path64);
  REQUIRE(as_float.at("x").shape() == Shape{3});
  CHECK(as_float.at("x")[0] == static_cast<float>(0.1));
  CHECK(as_float.at("x")[1] == -2.5f);
  CHECK(as_float.at("x")[2] == static_cast<float>(1e-3));
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors files get the mode open() would give them, or keep the old one",
          "[core][safetensors]") {
  const std::string dir = rwd::test::temp_dir("mode");
  const std::string path = dir + "/m.safetensors";
  std::map<std::string, Tensor<float>> t;
  t.emplace("w", Tensor<float>::from({1}, {1}));
  const mode_t old_mask = ::umask(022);
  save_safetensors(path, t);
  ::umask(027);
  save_safetensors(dir + "/n.safetensors", t);
  ::umask(old_mask);
  auto mode = [](const std::string& p) {
    struct stat st {};
    REQUIRE(::stat(p.c_str(), &st) == 0);
    return st.st_mode & 0777;
  };
  CHECK(mode(path) == 0644);  // not mkstemp's 0600
  CHECK(mode(dir + "/n.safetensors") == 0640);
  REQUIRE(::chmod(path.c_str(), 0600) == 0);
  save_safetensors(path, t);  // replacing a file keeps its mode
  CHECK(mode(path) == 0600);
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors writes are atomic: a failed write leaves the old file intact",
          "[core][safetensors]") {
  const std::string dir = rwd::test::temp_dir("atomic");
  const std::string path = dir + "/ckpt.safetensors";
  std::map<std::string, Tensor<double>> small;
  small.emplace("w", Tensor<double>::from({2}, {1, 2}));
  save_safetensors(path, small);
  const auto size_before = std::filesystem::file_size(path);

  // Make the next write fail for real: a file-size limit below what it needs (EFBIG).
  std::map<std::string, Tensor<double>> big;
  big.emplace("w", Tensor<double>::zeros({100000}));
  ::signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  ::getrlimit(RLIMIT_FSIZE, &old);
  rlimit limited = old;
  limited.rlim_cur = 4096;
  REQUIRE(::setrlimit(RLIMIT_FSIZE, &limited) == 0);
  std::string message;
  try {
    save_safetensors(path, big);
  } catch (const IoError& e) {
    message = e.what();
  }
  ::setrlimit(RLIMIT_FSIZE, &old);
  CHECK(message.find("ckpt.safetensors") != std::string::npos);
  CHECK(message.find("write failed") != std::string::npos);
  // The previous checkpoint is untouched and no temporary file is left behind.
  CHECK(std::filesystem::file_size(path) == size_before);
  CHECK(load_safetensors<double>(path).at("w")[1] == 2.0);
  int files = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) ++files;
  CHECK(files == 1);

  // Names and metadata go into JSON, which is UTF-8: other bytes are an error, and the old
  // file stays.
  CHECK_THROWS_WITH(save_safetensors(path, small, {{"vocab", "ab\x80"}}),
                    Catch::Contains("ckpt.safetensors") &&
                        Catch::Contains("metadata value of 'vocab'") && Catch::Contains("UTF-8"));
  std::map<std::string, Tensor<double>> bad_name;
  bad_name.emplace("w\xff", Tensor<double>::from({1}, {1}));
  CHECK_THROWS_WITH(save_safetensors(path, bad_name),
                    Catch::Contains("tensor name") && Catch::Contains("UTF-8"));
  CHECK(load_safetensors<double>(path).at("w")[1] == 2.0);

  // A directory that does not exist: a clear error, nothing written.
  CHECK_THROWS_WITH(save_safetensors(dir + "/missing/x.safetensors", small),
                    Catch::Contains("missing/x.safetensors") && Catch::Contains("temporary file"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: every malformed file gets a clear error", "[core][safetensors][errors]") {
  const std::string good = R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})";
  REQUIRE(parse_error(make_file(good, 16)) == "no error");

  CHECK_THROWS_WITH(
      load_safetensors<double>("/nonexistent/file.safetensors"),
      Catch::Contains("/nonexistent/file.safetensors") && Catch::Contains("cannot open"));
  auto truncated = make_file(good, 16);
  truncated.resize(5);
  CHECK_THAT(parse_error(truncated),
             Catch::Contains("bad.safetensors") && Catch::Contains("truncated"));
  CHECK_THAT(parse_error(make_file(good, 16, uint64_t(1) << 20)),
             Catch::Contains("header length 1048576 runs past the end"));
  CHECK_THAT(parse_error(make_file(good, 16, ~uint64_t(0) - 1)),
             Catch::Contains("runs past the end"));
  CHECK_THAT(parse_error(make_file(R"({"w":{"dtype":"F64",)", 16)),
             Catch::Contains("malformed JSON"));
  // A number beyond double's range is an out_of_range exception in nlohmann-json, not a
  // parse_error (found by the fuzzer).
  CHECK_THAT(parse_error(make_file(R"({"w":{"dtype":"F64","shape":[1e3576]}})", 16)),
             Catch::Contains("malformed JSON") && Catch::Contains("number overflow"));
  CHECK_THAT(parse_error(make_file("[1,2]", 0)), Catch::Contains("not a JSON object"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"Q7","shape":[2],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("unknown dtype 'Q7'") && Catch::Contains("'w'"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"I64","shape":[2],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("I64") && Catch::Contains("F32 and F64 only"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,24]}})", 16)),
      Catch::Contains("outside the data section"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[3],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("needs 24 bytes") && Catch::Contains("span 16"));
  CHECK_THAT(parse_error(make_file(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]},)"
                                   R"("b":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})",
                                   16)),
             Catch::Contains("overlap"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})", 16)),
      Catch::Contains("belong to no tensor"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}})", 16)),
      Catch::Contains("cover only 8"));
  CHECK_THAT(parse_error(make_file(
                 R"({"w":{"dtype":"F64","shape":[1,1,1,1,2],"data_offsets":[0,16]}})", 16)),
             Catch::Contains("rank 5"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[-2],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("non-negative"));
  CHECK_THAT(
      parse_error(make_file(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[16,0]}})", 16)),
      Catch::Contains("outside the data section"));
  CHECK_THAT(parse_error(make_file(R"({"w":{"dtype":"F64","shape":[2]}})", 16)),
             Catch::Contains("data_offsets"));
  CHECK_THAT(
      parse_error(make_file(
          R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("'w'"));
  CHECK_THAT(
      parse_error(make_file(
          R"({"__metadata__":{"k":3},"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", 16)),
      Catch::Contains("__metadata__"));
}

TEST_CASE("safetensors: a __metadata__ that is not an object is an error naming the file",
          "[core][safetensors][errors]") {
  const std::string dir = rwd::test::temp_dir("bad_metadata");
  const std::string path = dir + "/meta.safetensors";
  for (const std::string meta : {R"("format pt")", "[1,2]", "null", "7"}) {
    INFO("__metadata__: " << meta);
    const std::string header =
        R"({"__metadata__":)" + meta + R"(,"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})";
    CHECK_THAT(parse_error(make_file(header, 16)),
               Catch::Contains("bad.safetensors") && Catch::Contains("__metadata__"));
    const auto bytes = make_file(header, 16);
    {
      std::ofstream out(path, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    }
    CHECK_THROWS_AS(load_safetensors<float>(path), IoError);
    CHECK_THROWS_WITH(load_safetensors<float>(path),
                      Catch::Contains("meta.safetensors") && Catch::Contains("__metadata__"));
    CHECK_THROWS_WITH(load_safetensors_metadata(path),
                      Catch::Contains("meta.safetensors") && Catch::Contains("__metadata__"));
  }
  // The same tensor with an object for metadata loads.
  const auto good =
      make_file(R"({"__metadata__":{},"w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", 16);
  CHECK(parse_error(good) == "no error");
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: loading a directory is an IoError naming it, not bad_alloc",
          "[core][safetensors][errors]") {
  // On ext4 an ifstream opens a directory and tellg says it holds 2^63 - 1 bytes.
  const std::string dir = rwd::test::temp_dir("load_directory");
  CHECK_THROWS_AS(load_safetensors<float>(dir), IoError);
  CHECK_THROWS_WITH(load_safetensors<double>(dir),
                    Catch::Contains(dir) && Catch::Contains("directory"));
  CHECK_THROWS_WITH(load_safetensors_metadata(dir),
                    Catch::Contains(dir) && Catch::Contains("directory"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("safetensors: a header listing a name twice is an error naming the file and the name",
          "[core][safetensors][errors]") {
  // Both entries are valid on their own; nlohmann-json alone would keep the last one.
  const std::string twice = R"({"w":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
                            R"("w":{"dtype":"F64","shape":[1],"data_offsets":[8,16]}})";
  CHECK_THAT(parse_error(make_file(twice, 16)),
             Catch::Contains("bad.safetensors") && Catch::Contains("tensor 'w' twice"));
  CHECK_THAT(parse_error(make_file(R"({"__metadata__":{},"__metadata__":{},)"
                                   R"("w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})",
                                   16)),
             Catch::Contains("two '__metadata__'"));
  CHECK_THAT(parse_error(make_file(R"({"__metadata__":{"step":"1","step":"2"},)"
                                   R"("w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})",
                                   16)),
             Catch::Contains("'__metadata__' has the key 'step' twice"));
  CHECK_THAT(parse_error(make_file(
                 R"({"w":{"dtype":"F32","dtype":"F64","shape":[2],"data_offsets":[0,16]}})", 16)),
             Catch::Contains("'w' has the key 'dtype' twice"));
  // The same name in two different objects is no duplicate.
  CHECK(parse_error(make_file(R"({"__metadata__":{"w":"x"},)"
                              R"("w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})",
                              16)) == "no error");

  const std::string dir = rwd::test::temp_dir("duplicate_tensor");
  const std::string path = dir + "/twice.safetensors";
  const auto bytes = make_file(twice, 16);
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  CHECK_THROWS_WITH(load_safetensors<double>(path),
                    Catch::Contains("twice.safetensors") && Catch::Contains("'w'"));
  std::filesystem::remove_all(dir);
}
