// Reading the PyTorch reference data for the optimizer tests.
#include "reference.hpp"

#include <fstream>
#include <limits>

namespace rwd::test {

const nlohmann::json& optim_reference() {
  static const nlohmann::json data = [] {
    const std::string path = std::string(REWIND_TEST_DATA_DIR) + "/optim_reference.json";
    std::ifstream in(path);
    if (!in) throw IoError("cannot open " + path);
    return nlohmann::json::parse(in);
  }();
  return data;
}

double ref_number(const nlohmann::json& j) {
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    constexpr double kInf = std::numeric_limits<double>::infinity();
    if (s == "nan") return std::numeric_limits<double>::quiet_NaN();
    if (s == "inf") return kInf;
    if (s == "-inf") return -kInf;
    throw IoError("optim_reference.json: unknown number '" + s + "'");
  }
  return j.get<double>();
}

bool matches(double got, const nlohmann::json& want, double tol) {
  const double w = ref_number(want);
  if (std::isnan(w)) return std::isnan(got);
  if (std::isinf(w)) return got == w;
  return std::fabs(got - w) <= tol * std::max(1.0, std::fabs(w));
}

Shape ref_shape(const std::string& name) {
  const auto& dims = optim_reference()["shapes"][name];
  std::vector<int64_t> d;
  for (const auto& x : dims) d.push_back(x.get<int64_t>());
  return Shape(std::span<const int64_t>(d));
}

}  // namespace rwd::test
