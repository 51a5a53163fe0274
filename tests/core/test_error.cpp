// The exception hierarchy: every error rewind throws for bad input is an rwd::Error, so
// `catch (const rwd::Error&)` catches them all (core/error.hpp).
#include <type_traits>

#include "support.hpp"

using namespace rwd;

static_assert(std::is_base_of_v<std::runtime_error, Error>);
static_assert(std::is_base_of_v<Error, ShapeError>);
static_assert(std::is_base_of_v<Error, IndexError>);
static_assert(std::is_base_of_v<Error, ValueError>);
static_assert(std::is_base_of_v<Error, GraphError>);
static_assert(std::is_base_of_v<Error, AnomalyError>);
static_assert(std::is_base_of_v<Error, IoError>);
// The subclasses are distinct: catching one kind does not catch another.
static_assert(!std::is_base_of_v<ShapeError, IndexError>);
static_assert(!std::is_base_of_v<ValueError, IoError>);

TEST_CASE("every rewind error is caught as rwd::Error", "[core][errors]") {
  Graph<double> g;
  auto a = g.constant(Tensor<double>::ones({2, 3}));
  auto b = g.constant(Tensor<double>::ones({2, 3}));
  // A shape mismatch: [2, 3] x [2, 3].
  CHECK_THROWS_AS(matmul(a, b), Error);
  CHECK_THROWS_WITH(matmul(a, b), Catch::Contains("matmul"));
  // One throw of each kind, through the base class.
  CHECK_THROWS_AS(Tensor<double>::zeros({2}).at({2}), Error);  // IndexError
  Generator gen(1);
  CHECK_THROWS_AS(Tensor<double>::normal({2}, 0, -1, gen), Error);                 // ValueError
  CHECK_THROWS_AS(tanh(Var<double>()), Error);                                     // GraphError
  CHECK_THROWS_AS(load_safetensors<double>("/nonexistent/x.safetensors"), Error);  // IoError
  g.set_anomaly_detection(true);
  auto negative = g.constant(Tensor<double>::from({1}, {-1}));
  CHECK_THROWS_AS((static_cast<void>(log(negative)), g.check_anomalies()), Error);  // AnomalyError
  // And each is still its own type.
  CHECK_THROWS_AS(matmul(a, b), ShapeError);
  CHECK_THROWS_AS(Tensor<double>::zeros({2}).at({2}), IndexError);
}
