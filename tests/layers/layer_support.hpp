// Helpers for layer tests: gradient checks of whole sequence layers over their input,
// initial states and every parameter.
#pragma once

#include <vector>

#include "support.hpp"

namespace rwd::test {

/// gradcheck of layer.forward over input (and initial states when given), with every
/// parameter of the layer. The checked value joins the output sequence and all final
/// states, so every one of them must carry the right gradient.
template <class Layer>
GradcheckReport check_sequence_layer(Layer& layer, const Tensor<double>& input,
                                     std::vector<Tensor<double>> initial = {},
                                     std::vector<int64_t> lengths = {}) {
  using State = typename Layer::State;
  std::vector<Tensor<double>> inputs = {input};
  for (auto& t : initial) inputs.push_back(t);
  const auto params = layer.named_parameters();
  return gradcheck(
      [&](Graph<double>&, std::span<const Var<double>> xs) {
        State init{};
        for (size_t k = 1; k < xs.size(); ++k) init[k - 1] = xs[k];
        auto out = layer.forward(xs[0], init, lengths);
        std::vector<Var<double>> parts = {reshape(out.output, {-1})};
        for (auto& s : out.state) parts.push_back(reshape(s, {-1}));
        return concat(std::span<const Var<double>>(parts), 0);
      },
      inputs, params);
}

}  // namespace rwd::test
