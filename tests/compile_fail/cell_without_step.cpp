// Must not compile: a user cell without step(). The driver's static_assert names the missing
// member (tests/CMakeLists.txt checks the compiler's message).
#include <rewind/rewind.hpp>

class NoStepCell : public rwd::Module<float> {
 public:
  using Scalar = float;
  using State = std::array<rwd::Var<float>, 1>;
  [[nodiscard]] int64_t input_size() const { return 2; }
  [[nodiscard]] int64_t hidden_size() const { return 3; }
  void visit(rwd::ModuleVisitor<float>&) override {}
};

int main() {
  return sizeof(rwd::Recurrent<NoStepCell>) > 0 ? 0 : 1;
}
