// Must not compile: a user cell that does not say its scalar type. The driver's
// static_assert says what to declare (tests/CMakeLists.txt checks the compiler's message).
#include <rewind/rewind.hpp>

class NoScalarCell : public rwd::Module<float> {
 public:
  using State = std::array<rwd::Var<float>, 1>;
  [[nodiscard]] int64_t input_size() const { return 2; }
  [[nodiscard]] int64_t hidden_size() const { return 3; }
  State step(rwd::Var<float>, const State& s) { return s; }
  void visit(rwd::ModuleVisitor<float>&) override {}
};

int main() {
  return sizeof(rwd::Recurrent<NoScalarCell>) > 0 ? 0 : 1;
}
