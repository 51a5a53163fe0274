// PyTorch parity: each file in tests/data/rnn/ was written by make_rnn_reference.py with
// Debian's python3-torch (float64). Load the parameters by their state_dict names, run the
// same input, initial states and lengths (and proj_size), and match outputs, final states, the loss
// and the gradients of the input, initial states and every parameter to 1e-10.
#include <string>

#include "support.hpp"

using namespace rwd;

namespace {

using Tensors = std::map<std::string, Tensor<double>>;

std::map<std::string, Tensor<double>> with_prefix(const Tensors& all, const std::string& prefix) {
  std::map<std::string, Tensor<double>> out;
  for (const auto& [name, t] : all)
    if (name.rfind(prefix, 0) == 0) out.emplace(name.substr(prefix.size()), t);
  return out;
}

void require_close(const std::string& what, TensorView<const double> got,
                   const Tensor<double>& want) {
  INFO(what << ": got shape " << got.shape().str() << ", want " << want.shape().str());
  REQUIRE(got.shape() == want.shape());
  const double diff = max_abs_diff(got, want.view());
  INFO(what << ": max abs diff " << diff);
  CHECK(diff < 1e-10);
}

template <class Layer>
void check_against(Layer& layer, const Tensors& ref,
                   const std::map<std::string, std::string>& meta) {
  const std::vector<std::string> states = {"h", "c"};
  layer.load_state_dict(with_prefix(ref, "param."));
  std::vector<int64_t> lengths;
  if (ref.count("lengths"))
    for (int64_t i = 0; i < ref.at("lengths").numel(); ++i)
      lengths.push_back(int64_t(ref.at("lengths")[i]));

  Graph<double> g;
  Var<double> x = g.input(ref.at("input"), true);
  typename Layer::State init{};
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    if (ref.count(states[k] + "0")) init[k] = g.input(ref.at(states[k] + "0"), true);
  auto out = layer.forward(x, init, lengths);
  Var<double> loss = sum(out.output * g.constant(ref.at("w_out")));
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    loss = loss + sum(out.state[k] * g.constant(ref.at("w_" + states[k])));
  g.backward(loss);

  INFO("configuration: " << meta.at("kind") << " layers " << meta.at("num_layers")
                         << " bidirectional " << meta.at("bidirectional") << " proj_size "
                         << (meta.count("proj_size") ? meta.at("proj_size") : "0"));
  require_close("output", out.output.value(), ref.at("output"));
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    require_close(states[k] + "_n", out.state[k].value(), ref.at(states[k] + "_n"));
  CHECK(loss.item() == Approx(ref.at("loss").item()).epsilon(1e-12));
  require_close("grad.input", x.grad(), ref.at("grad.input"));
  for (size_t k = 0; k < Layer::kStateSize; ++k)
    if (!init[k].empty())
      require_close("grad." + states[k] + "0", init[k].grad(), ref.at("grad." + states[k] + "0"));
  const auto grads = with_prefix(ref, "grad.param.");
  const auto params = layer.named_parameters();
  REQUIRE(params.size() == grads.size());
  for (const auto& [name, p] : params) {
    INFO("parameter " << name);
    REQUIRE(grads.count(name) == 1);
    require_close("grad of " + name, p->grad().view(), grads.at(name));
  }
}

}  // namespace

TEST_CASE("recurrent layers match PyTorch to 1e-10", "[layers][pytorch]") {
  const std::string dir = std::string(REWIND_TEST_DATA_DIR) + "/rnn/";
  const char* files[] = {"rnn_tanh",
                         "rnn_relu_2layer_bi_batch_first",
                         "lstm",
                         "gru",
                         "bilstm",
                         "lstm_2layer",
                         "gru_varlen_bi",
                         "bilstm_varlen_2layer",
                         "bilstm_proj_varlen_2layer",
                         "bilstm_proj_2layer_batch_first"};
  for (const char* file : files) {
    DYNAMIC_SECTION(file) {
      const std::string path = dir + file + ".safetensors";
      const Tensors ref = load_safetensors<double>(path);
      const auto meta = load_safetensors_metadata(path);
      RecurrentOptions o;
      o.input_size = std::stoll(meta.at("input_size"));
      o.hidden_size = std::stoll(meta.at("hidden_size"));
      o.num_layers = std::stoll(meta.at("num_layers"));
      o.bidirectional = meta.at("bidirectional") == "True";
      o.batch_first = meta.at("batch_first") == "True";
      if (meta.count("proj_size")) o.proj_size = std::stoll(meta.at("proj_size"));
      Generator gen(1);
      const std::string kind = meta.at("kind");
      if (kind == "LSTM") {
        LSTM<double> layer(o, gen);
        check_against(layer, ref, meta);
      } else if (kind == "GRU") {
        GRU<double> layer(o, gen);
        check_against(layer, ref, meta);
      } else {
        REQUIRE(kind == "RNN");
        RNN<double> layer(
            o, gen, meta.at("nonlinearity") == "relu" ? Nonlinearity::kRelu : Nonlinearity::kTanh);
        check_against(layer, ref, meta);
      }
    }
  }
}
