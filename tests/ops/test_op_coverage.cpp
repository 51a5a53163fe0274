// Every built-in op has a gradient check, and the checks cover long chains and float/double
// agreement. An op added to a family list without a GRAD_CASE fails here.
#include <set>

#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

TEST_CASE("every differentiable built-in op has a passing gradient check", "[grad][coverage]") {
  const auto ops = builtin_ops();
  REQUIRE(ops.size() >= 25);
  std::set<std::string> names;
  for (const OpInfo& op : ops) {
    INFO("op: " << op.name);
    CHECK(names.insert(op.name).second);  // no duplicates in the registry
    if (!op.differentiable) continue;
    int cases = 0;
    for (const auto& c : rwd::test::grad_cases()) {
      if (c.op != op.name) continue;
      ++cases;
      const GradcheckReport r = c.run();
      INFO("case: " << c.name << ": " << r.summary());
      CHECK(r.passed);
      // The case really recorded the op it claims to check.
      CHECK(std::find(r.ops.begin(), r.ops.end(), op.name) != r.ops.end());
    }
    CHECK(cases > 0);
  }
  // And no case claims an op that is not built in (a typo would hide a missing check).
  for (const auto& c : rwd::test::grad_cases()) {
    INFO("case op: " << c.op);
    CHECK(names.count(c.op) == 1);
  }
}

TEST_CASE("gradcheck through a chain of 60 ops", "[grad][chain]") {
  const auto report = rwd::test::check({randn({2, 3}, 111), randn({3, 3}, 112)}, [](auto x) {
    Var<double> h = x[0];
    for (int i = 0; i < 15; ++i) {  // 4 ops per round
      h = tanh(matmul(h, x[1]) * 0.5);
      h = h + x[0];
    }
    return h;
  });
  INFO(report.summary());
  CHECK(report.passed);
}

namespace {

// The same small model in float and in double: a step through most op families.
template <Scalar T>
Tensor<T> model_output(const Tensor<double>& xd, const Tensor<double>& wd) {
  Graph<T> g;
  auto x = g.constant(xd.cast<T>());
  auto w = g.constant(wd.cast<T>());
  auto h = tanh(matmul(x, w, false, true));
  auto gates = chunk<2>(concat({h, sigmoid(h)}, 1), 1);
  auto s = softmax(gates[0] * gates[1] + exp(h * T(0.1)));
  auto out = log_softmax(s + relu(h)) + mean(square(h), 1, true);
  return Tensor<T>(out.value());
}

}  // namespace

TEST_CASE("float results agree with double", "[ops][float]") {
  const Tensor<double> x = randn({4, 6}, 113);
  const Tensor<double> w = randn({5, 6}, 114);
  const Tensor<float> f = model_output<float>(x, w);
  const Tensor<double> d = model_output<double>(x, w);
  CHECK(max_abs_diff(f.cast<double>().view(), d.view()) < 1e-5);
}
