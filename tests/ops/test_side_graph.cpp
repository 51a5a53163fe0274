// Side graphs: part of a function recorded on a second graph by a worker thread, joined into
// the main graph; gradients (inputs and the side's parameters) must come back exactly.
#include <rewind/ops/side_graph.hpp>  // internal: not part of rewind.hpp

#include "support.hpp"

using namespace rwd;
using rwd::test::randn;

namespace {

struct SideJob {
  Graph<double>* side;
  SideLink<double>* link;
  Parameter<double>* p;
  TensorView<const double> x;
  bool x_needs_grad;

  // On the worker: y = tanh(x * p) on the side graph.
  void operator()() const {
    side->clear();
    Var<double> sx = side->input_view(x, x_needs_grad);
    Var<double> y = tanh(sx * side->param(*p));
    link->side_output = y.id();
    link->side_inputs[0] = sx.id();
    link->num_inputs = 1;
  }
};

struct SideFixture {
  Graph<double> side;
  Worker worker;
  Parameter<double> p{randn({3}, 201)};

  // f(x) = tanh(x * p) [on the side graph, worker thread] + x² [main graph, meanwhile]
  Var<double> f(Var<double> x) {
    Graph<double>& g = x.graph();
    auto* link = g.allocate<SideLink<double>>(1);
    *link = SideLink<double>{};
    link->side = &side;
    link->worker = &worker;
    const Var<double> inputs[] = {x};
    Var<double> entry = side_enter(std::span<const Var<double>>(inputs), g.param(p), link);
    auto* job = g.allocate<SideJob>(1);
    *job = SideJob{&side, link, &p, x.value(), x.requires_grad()};
    worker.start(*job);
    Var<double> main_part = square(x);  // runs while the worker records
    worker.wait();
    return side_exit(entry, link) + main_part;
  }
};

}  // namespace

GRAD_CASE("side_exit", "input and side parameter gradients through a worker thread") {
  static SideFixture fx;
  static const NamedParameter<double> params[] = {{"side.p", &fx.p}};
  const Tensor<double> x = randn({2, 3}, 202);
  return gradcheck([](Graph<double>&, auto v) { return fx.f(v[0]); }, {&x, 1}, params);
}

TEST_CASE("side graph values equal the same function on one graph", "[ops][side_graph]") {
  SideFixture fx;
  Graph<double> g;
  const Tensor<double> xt = randn({2, 3}, 203);
  auto x = g.input(xt, true);
  auto y = fx.f(x);
  Graph<double> ref;
  auto rx = ref.input(xt, true);
  auto ry = tanh(rx * ref.param(fx.p)) + square(rx);
  CHECK(max_abs_diff(y.value(), ry.value()) == 0.0);
  g.backward(sum(y));
  const Tensor<double> side_grad = fx.p.grad();
  fx.p.zero_grad();
  ref.backward(sum(ry));
  CHECK(max_abs_diff(x.grad(), rx.grad()) < 1e-15);
  CHECK(max_abs_diff(side_grad.view(), fx.p.grad().view()) < 1e-15);
}

TEST_CASE("an error in the side backward reaches the caller", "[ops][side_graph][errors]") {
  Worker worker;
  bool ran = false;
  auto fail = [&ran] {
    ran = true;
    throw ValueError("side failed");
  };
  worker.start(fail);
  CHECK_THROWS_WITH(worker.wait(), Catch::Contains("side failed"));
  CHECK(ran);
  worker.wait();  // the error is reported once; the worker is usable again
  auto reset = [&ran] { ran = false; };
  worker.start(reset);
  worker.wait();
  CHECK_FALSE(ran);
  CHECK_THROWS_AS(set_num_threads(0), ValueError);
}
