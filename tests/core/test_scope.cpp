// Name scopes: nesting, lazily formatted indexed names, clear(), errors, and the scopes and
// step marks the sequence driver records.
#include <regex>
#include <set>

#include "support.hpp"

using namespace rwd;

TEST_CASE("scopes name what is recorded inside them and nest", "[core][scope]") {
  Graph<double> g;
  auto x = g.input(Tensor<double>::from({2}, {1, 2}), true);
  Var<double> y, z, w;
  {
    auto encoder = g.scope("encoder");
    y = x * 2.0;
    {
      auto step = g.scope("t=", 3);
      z = tanh(y);
    }
    w = y + z;  // back in "encoder"
  }
  auto after = sum(w);
  CHECK(g.scope_path(x.id()).empty());
  CHECK(g.scope_path(y.id()) == "encoder");
  CHECK(g.scope_path(z.id()) == "encoder/t=3");
  CHECK(g.scope_path(w.id()) == "encoder");
  CHECK(g.scope_path(after.id()).empty());

  const ScopeTable& s = g.scopes();
  const ScopeId step = g.node(z.id()).scope;
  CHECK(s.name(step) == "t=3");
  CHECK(s.label(step) == "t=");
  CHECK(s.has_index(step));
  CHECK(s.index(step) == 3);
  CHECK(s.name(s.parent(step)) == "encoder");
  CHECK_FALSE(s.has_index(s.parent(step)));
  CHECK(s.is_within(step, s.parent(step)));
  CHECK_FALSE(s.is_within(s.parent(step), step));
  CHECK(s.current() == ScopeTable::kRoot);
}

TEST_CASE("close() leaves a scope early, and a moved scope closes once", "[core][scope]") {
  Graph<float> g;
  auto outer = g.scope("outer");
  auto inner = g.scope("inner");
  const ScopeId inner_id = g.scopes().current();
  CHECK(inner.id() == inner_id);
  NameScope moved = std::move(inner);
  moved.close();
  CHECK(g.scopes().current() == outer.id());
  moved.close();  // nothing left to do
  CHECK(g.scopes().current() == outer.id());
  auto v = g.zeros({1});
  CHECK(g.scope_path(v.id()) == "outer");
}

TEST_CASE("clear() forgets scopes, and a scope open across clear() does nothing when it ends",
          "[core][scope]") {
  Graph<float> g;
  {
    auto s = g.scope("before");
    g.clear();
    CHECK(g.scopes().size() == 1);
    CHECK(g.scopes().current() == ScopeTable::kRoot);
    auto later = g.scope("after");
    auto v = g.zeros({1});
    CHECK(g.scope_path(v.id()) == "after");
  }  // `s` ends here: it must not reinstate a scope of the old round
  CHECK(g.scopes().current() == ScopeTable::kRoot);
  auto v = g.zeros({1});
  CHECK(g.scope_path(v.id()).empty());
}

TEST_CASE("scope names: errors for empty names, '/' and the reserved index",
          "[core][scope][errors]") {
  Graph<float> g;
  CHECK_THROWS_AS(g.scope(""), ValueError);
  CHECK_THROWS_WITH(g.scope("a/b"), Catch::Contains("'a/b'") && Catch::Contains("'/'"));
  CHECK_THROWS_AS(g.scope("t/", 1), ValueError);
  CHECK_THROWS_WITH(g.scope("t=", ScopeTable::kNoIndex), Catch::Contains("reserved"));
  CHECK(g.scopes().size() == 1);                    // nothing was opened
  CHECK(g.scope("", 7).id() != ScopeTable::kRoot);  // an empty prefix is fine: "7"
}

TEST_CASE("sequence layers scope their nodes by layer, direction and time step",
          "[core][scope][layers]") {
  Generator gen(3);
  RecurrentOptions o;
  o.input_size = 2;
  o.hidden_size = 3;
  o.num_layers = 2;
  o.bidirectional = true;
  LSTM<double> lstm(o, gen);
  Graph<double> g;
  auto out = lstm.forward(g.input(Tensor<double>::zeros({4, 2, 2})));
  std::set<std::string> paths;
  for (NodeId id = 0; id < g.size(); ++id) paths.insert(g.scope_path(id));
  for (const char* dir : {"fwd", "rev"})
    for (int l = 0; l < 2; ++l) {
      CHECK(paths.count(fmt::format("lstm.l{}.{}", l, dir)) == 1);  // the input projection
      for (int t = 0; t < 4; ++t) CHECK(paths.count(fmt::format("lstm.l{}.{}/t={}", l, dir, t)));
    }
  CHECK(g.scope_path(out.output.id()).empty());  // the layer's result is the caller's
  // Every cell step (the fused LSTM pointwise op) is inside a time step.
  const std::regex step_path(R"(lstm\.l[01]\.(fwd|rev)/t=[0-3])");
  int cells = 0;
  for (NodeId id = 0; id < g.size(); ++id)
    if (std::string(g.node(id).op->name) == "lstm_pointwise") {
      ++cells;
      CHECK(std::regex_match(g.scope_path(id), step_path));
    }
  CHECK(cells == 2 * 2 * 4);  // one per step: 2 layers × 2 directions × 4 steps
}

TEST_CASE("sequence layers mark each step's hidden state, in its time-step scope",
          "[core][scope][layers]") {
  Generator gen(4);
  RecurrentOptions o;
  o.input_size = 2;
  o.hidden_size = 3;
  o.num_layers = 2;
  GRU<float> gru(o, gen);
  Graph<float> g;
  const std::vector<int64_t> lengths = {3, 1};
  auto out = gru.forward(g.input(Tensor<float>::zeros({3, 2, 2})), {}, lengths);
  const auto marks = g.step_outputs();
  REQUIRE(marks.size() == 2 * 3);
  for (size_t k = 0; k < marks.size(); ++k) {
    const auto& m = marks[k];
    CHECK(g.scopes().path(m.scope) == fmt::format("gru.l{}.fwd/t={}", k / 3, k % 3));
    CHECK(g.node(m.node).shape == Shape{2, 3});
    CHECK(g.node(m.node).scope == m.scope);
    CHECK(m.state == 0);
  }
  // The last layer's last mark is the cell's own output: the final state of a full-length
  // sequence equals it.
  CHECK(out.h_n().value().at({1, 0, 0}) ==
        TensorView<const float>(g.node(marks.back().node).value, Shape{2, 3}).at({0, 0}));
  // An LSTM marks h_t (state 0) and c_t (state 1) at every step.
  LSTM<float> lstm(o, gen);
  g.clear();
  auto lout = lstm.forward(g.input(Tensor<float>::zeros({3, 2, 2})));
  REQUIRE(g.step_outputs().size() == 2 * 3 * 2);
  const StepOutput last_h = g.step_outputs()[10];
  const StepOutput last_c = g.step_outputs()[11];
  CHECK(last_h.state == 0);
  CHECK(last_c.state == 1);
  CHECK(last_h.scope == last_c.scope);
  CHECK(g.node(last_c.node).value[0] == lout.c_n().value().at({1, 0, 0}));
  g.clear();
  CHECK(g.step_outputs().empty());
  CHECK_THROWS_AS(g.mark_step_output(out.output), GraphError);  // stale Var
}

TEST_CASE("indexed scopes that reuse the previous label keep their own names", "[core][scope]") {
  Graph<float> g;
  std::vector<ScopeId> ids;
  {
    auto plain = g.scope("t=");  // a plain name that an indexed scope's prefix then matches
    ids.push_back(plain.id());
  }
  for (int64_t t = 0; t < 3; ++t) ids.push_back(g.scope("t=", t).id());
  ids.push_back(g.scope("u=", 7).id());
  ids.push_back(g.scope("t=", 9).id());
  const ScopeTable& s = g.scopes();
  std::vector<std::string> names;
  for (ScopeId id : ids) names.push_back(s.name(id));
  CHECK(names == std::vector<std::string>{"t=", "t=0", "t=1", "t=2", "u=7", "t=9"});
  CHECK_FALSE(s.has_index(ids[0]));
  CHECK(s.index(ids[3]) == 2);
}
