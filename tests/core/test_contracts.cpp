// The contracts op authors and extension writers rely on: typed attributes, the gradient
// accumulation rule (and its one opt-in exception), errors naming the op a bad Var was passed
// to, and the graph's extension points.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

struct ScaleAttrs {
  double factor;
  int axis;
};
struct OtherAttrs {
  int axis;
};

// y = factor * x;  dx += factor * dy
void scale_backward(const Backward<double>& b) {
  const double factor = b.attrs<ScaleAttrs>().factor;
  if (double* dx = b.dx(0))
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += factor * b.dy()[i];
}
// Reads its attributes as the wrong type.
void confused_backward(const Backward<double>& b) {
  (void)b.attrs<OtherAttrs>();
}
// Takes a buffer for writing, then adds into it: breaks Note [Gradient accumulation].
void adds_into_fresh_backward(const Backward<double>& b) {
  bool fresh = false;
  if (double* dx = b.dx_for_write(0, fresh))
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] += b.dy()[i];
}
// Takes a buffer for writing and honours `fresh`.
void writes_fresh_backward(const Backward<double>& b) {
  bool fresh = false;
  if (double* dx = b.dx_for_write(0, fresh))
    for (int64_t i = 0; i < b.numel(); ++i) dx[i] = (fresh ? 0.0 : dx[i]) + b.dy()[i];
}

const OpDef<double> kScale{"scale_by", &scale_backward};
const OpDef<double> kConfused{"confused", &confused_backward};
const OpDef<double> kAddsIntoFresh{"adds_into_fresh", &adds_into_fresh_backward};
const OpDef<double> kWritesFresh{"writes_fresh", &writes_fresh_backward};

Var<double> apply(const OpDef<double>& op, Var<double> x, double factor = 1.0) {
  Graph<double>& g = graph_of(op.name, {x});
  const Shape shape = x.shape();
  const double* xv = x.data();
  auto [y, out] = g.record(op, {x}, shape, ScaleAttrs{factor, 0});
  for (int64_t i = 0; i < shape.numel(); ++i) out[i] = factor * xv[i];
  return y;
}

}  // namespace

TEST_CASE("an op reads back its own attribute struct", "[core][contracts][attrs]") {
  Graph<double> g;
  auto x = g.input(randn({2, 3}, 1), true);
  g.backward(sum(apply(kScale, x, 2.5)));
  CHECK(x.grad()[4] == 2.5);
}

TEST_CASE("reading attributes as another type is refused, naming the op",
          "[core][contracts][attrs][errors]") {
  Graph<double> g;
  auto x = g.input(randn({2}, 2), true);
  auto y = apply(kConfused, x);
  CHECK_THROWS_AS(g.backward(sum(y)), GraphError);
  CHECK_THROWS_WITH(g.backward(sum(y)), Catch::Contains("confused") &&
                                            Catch::Contains("type other than the one recorded"));
}

TEST_CASE("gradcheck catches an op that adds into a buffer handed out for writing",
          "[core][contracts][accumulation]") {
  const Tensor<double> x = randn({3}, 3);
  // Its gradient may even come out right when the arena happens to hold zeros: only the
  // poisoned buffer of anomaly mode makes the broken rule visible every time.
  auto broken = [](Graph<double>&, std::span<const Var<double>> v) {
    return apply(kAddsIntoFresh, v[0]);
  };
  CHECK_THROWS_AS(gradcheck(broken, {&x, 1}), AnomalyError);
  CHECK_THROWS_WITH(gradcheck(broken, {&x, 1}), Catch::Contains("adds_into_fresh"));
  auto honest = [](Graph<double>&, std::span<const Var<double>> v) {
    return apply(kWritesFresh, v[0]) + apply(kWritesFresh, v[0]);
  };
  CHECK(gradcheck(honest, {&x, 1}).passed);
  // Without anomaly mode the buffer is not poisoned: the check is what enforces the rule.
  GradcheckOptions lax;
  lax.check_accumulation = false;
  CHECK_NOTHROW(gradcheck(broken, {&x, 1}, {}, lax));
}

TEST_CASE("an empty or stale Var passed to an op names that op", "[core][contracts][errors]") {
  Graph<double> g;
  Var<double> stale = g.input(randn({2, 3}, 4), true);
  g.clear();
  Var<double> live = g.input(randn({2, 3}, 5), true);
  Var<double> square_matrix = g.input(randn({3, 3}, 6), true);
  Generator gen(7);
  const std::vector<int64_t> ids = {0, 1};
  const std::vector<std::pair<std::string, std::function<void(Var<double>)>>> ops = {
      {"add", [&](Var<double> v) { (void)add(v, live); }},
      {"mul", [&](Var<double> v) { (void)mul(v, live); }},
      {"neg", [&](Var<double> v) { (void)neg(v); }},
      {"mul_scalar", [&](Var<double> v) { (void)mul_scalar(v, 2.0); }},
      {"tanh", [&](Var<double> v) { (void)tanh(v); }},
      {"sigmoid", [&](Var<double> v) { (void)sigmoid(v); }},
      {"exp", [&](Var<double> v) { (void)exp(v); }},
      {"matmul", [&](Var<double> v) { (void)matmul(v, square_matrix); }},
      {"slice", [&](Var<double> v) { (void)slice(v, 1, 0, 1); }},
      {"reshape",
       [&](Var<double> v) {
         (void)reshape(v, {3, 2});
       }},
      {"transpose", [&](Var<double> v) { (void)transpose(v); }},
      {"detach", [&](Var<double> v) { (void)detach(v); }},
      {"concat",
       [&](Var<double> v) {
         (void)concat({v, live}, 0);
       }},
      {"sum", [&](Var<double> v) { (void)sum(v); }},
      {"mean", [&](Var<double> v) { (void)mean(v, 0); }},
      {"softmax", [&](Var<double> v) { (void)softmax(v); }},
      {"cross_entropy", [&](Var<double> v) { (void)cross_entropy(v, ids); }},
      {"nll_loss", [&](Var<double> v) { (void)nll_loss(v, ids); }},
      {"binary_cross_entropy_with_logits",
       [&](Var<double> v) { (void)binary_cross_entropy_with_logits(v, live); }},
      {"var", [&](Var<double> v) { (void)var(v, 1); }},
      {"std", [&](Var<double> v) { (void)rwd::std(v, 1); }},
      {"logsumexp", [&](Var<double> v) { (void)logsumexp(v, 1); }},
      {"max", [&](Var<double> v) { (void)max(v, 1); }},
      {"argmax", [&](Var<double> v) { (void)argmax(v, 1); }},
      {"gather",
       [&](Var<double> v) {
         (void)gather(v, 1, Indices({1, 1}, {0}));
       }},
      {"index_select", [&](Var<double> v) { (void)index_select(v, 0, ids); }},
      {"stack",
       [&](Var<double> v) {
         (void)stack({v, live}, 0);
       }},
      {"embedding", [&](Var<double> v) { (void)embedding(v, ids); }},
      {"dropout", [&](Var<double> v) { (void)dropout(v, 0.5, true, gen); }},
  };
  for (const auto& [name, call] : ops) {
    INFO("op " << name);
    CHECK_THROWS_WITH(call(Var<double>()),
                      Catch::StartsWith(name + ":") && Catch::Contains("empty"));
    CHECK_THROWS_WITH(call(stale), Catch::StartsWith(name + ":") && Catch::Contains("stale"));
  }
  CHECK(g.size() == 2);  // nothing was recorded by the refused calls
}

namespace {

// Counts the calls the graph makes at its extension points.
struct CountingExtension final : GraphExtension<double> {
  std::vector<std::string> calls;
  bool refuse = false;
  void before_backward(Graph<double>&) override {
    calls.emplace_back("before");
    if (refuse) throw GraphError("refused by the extension");
  }
  void after_backward(Graph<double>&) override { calls.emplace_back("after"); }
  void quiesce() noexcept override { calls.emplace_back("quiesce"); }
  void clear() noexcept override { calls.emplace_back("clear"); }
};

}  // namespace

TEST_CASE("a graph calls its extensions before and after backward and on clear",
          "[core][contracts][extension]") {
  Graph<double> g;
  auto& ext = g.extension<CountingExtension>();
  CHECK(&g.extension<CountingExtension>() == &ext);  // one per graph
  Graph<double> other;
  CHECK(&other.extension<CountingExtension>() != &ext);
  auto x = g.input(randn({2}, 8), true);
  g.backward(sum(x * x));
  CHECK(ext.calls == std::vector<std::string>{"before", "after"});
  ext.refuse = true;
  CHECK_THROWS_WITH(g.backward(sum(x * 3.0)), Catch::Contains("refused by the extension"));
  CHECK(x.grad()[0] == Approx(2 * x.value()[0]));  // refused before any gradient changed
  g.clear();
  CHECK(ext.calls == std::vector<std::string>{"before", "after", "before", "quiesce", "clear"});
}
