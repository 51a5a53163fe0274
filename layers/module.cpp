// Walking the module tree: names, mode, state dicts.
#include "rewind/layers/module.hpp"

#include <fmt/format.h>

#include <functional>

#include "rewind/core/error.hpp"

namespace rwd {
namespace {

// Depth-first walk calling `on_param(dotted_name, p)` and `on_module(m)` for every module.
// Without `names`, dotted names are not built (zero_grad() and train() run every step and
// must not allocate); on_param then gets an empty name.
template <Scalar T>
class Walker final : public ModuleVisitor<T> {
 public:
  using ParamFn = std::function<void(const std::string&, Parameter<T>&)>;
  using ModuleFn = std::function<void(Module<T>&)>;
  Walker(const ParamFn& on_param, const ModuleFn& on_module, bool names, std::string prefix = {},
         std::string suffix = {})
      : on_param_(on_param),
        on_module_(on_module),
        names_(names),
        prefix_(std::move(prefix)),
        suffix_(std::move(suffix)) {}

  void parameter(const std::string& name, Parameter<T>& p) override {
    if (names_)
      on_param_(prefix_ + name + suffix_, p);
    else
      on_param_(prefix_, p);
  }
  void module(const std::string& name, Module<T>& child) override {
    if (on_module_) on_module_(child);
    Walker inner(on_param_, on_module_, names_, names_ ? prefix_ + name + suffix_ + "." : "");
    child.visit(inner);
  }
  void flattened(const std::string& suffix, Module<T>& child) override {
    if (on_module_) on_module_(child);
    Walker inner(on_param_, on_module_, names_, prefix_, names_ ? suffix + suffix_ : "");
    child.visit(inner);
  }

 private:
  const ParamFn& on_param_;
  const ModuleFn& on_module_;
  bool names_;
  std::string prefix_;
  std::string suffix_;
};

template <Scalar T>
void walk(Module<T>& root, bool names, const typename Walker<T>::ParamFn& on_param,
          const typename Walker<T>::ModuleFn& on_module = {}) {
  Walker<T> w(on_param, on_module, names);
  root.visit(w);
}

}  // namespace

template <Scalar T>
std::vector<NamedParameter<T>> Module<T>::named_parameters() {
  std::vector<NamedParameter<T>> out;
  walk<T>(*this, true, [&](const std::string& name, Parameter<T>& p) {
    out.push_back({name, &p});
  });
  return out;
}

template <Scalar T>
std::vector<Parameter<T>*> Module<T>::parameters() {
  std::vector<Parameter<T>*> out;
  walk<T>(*this, false, [&](const std::string&, Parameter<T>& p) { out.push_back(&p); });
  return out;
}

template <Scalar T>
int64_t Module<T>::num_parameters() {
  int64_t n = 0;
  walk<T>(*this, false, [&](const std::string&, Parameter<T>& p) { n += p.numel(); });
  return n;
}

template <Scalar T>
void Module<T>::zero_grad() {
  walk<T>(*this, false, [](const std::string&, Parameter<T>& p) { p.zero_grad(); });
}

template <Scalar T>
void Module<T>::train(bool on) {
  training_ = on;
  walk<T>(
      *this, false, [](const std::string&, Parameter<T>&) {},
      [on](Module<T>& m) { m.training_ = on; });
}

template <Scalar T>
std::map<std::string, Tensor<T>> Module<T>::state_dict() {
  std::map<std::string, Tensor<T>> out;
  walk<T>(*this, true,
          [&](const std::string& name, Parameter<T>& p) { out.emplace(name, p.value()); });
  return out;
}

template <Scalar T>
void Module<T>::load_state_dict(const std::map<std::string, Tensor<T>>& state) {
  const std::vector<NamedParameter<T>> params = named_parameters();
  // Validate everything first: nothing is copied unless all of it fits.
  for (const auto& [name, p] : params) {
    auto it = state.find(name);
    if (it == state.end())
      throw ValueError(fmt::format(
          "load_state_dict: parameter '{}' (shape {}) is missing from the state dict ({} entries)",
          name, p->shape().str(), state.size()));
    if (!(it->second.shape() == p->shape()))
      throw ShapeError(
          fmt::format("load_state_dict: '{}' has shape {} in the state dict but {} in the module",
                      name, it->second.shape().str(), p->shape().str()));
  }
  if (state.size() != params.size()) {
    for (const auto& [name, tensor] : state) {
      bool known = false;
      for (const auto& np : params) known = known || np.name == name;
      if (!known)
        throw ValueError(fmt::format(
            "load_state_dict: unexpected key '{}' (shape {}): the module has no such parameter",
            name, tensor.shape().str()));
    }
  }
  for (const auto& [name, p] : params) p->assign(state.at(name).view());
}

template <Scalar T>
Parameter<T>* first_trainable_parameter(Module<T>& m) {
  struct FirstTrainable final : ModuleVisitor<T> {
    Parameter<T>* found = nullptr;
    void parameter(const std::string&, Parameter<T>& p) override {
      if (found == nullptr && p.requires_grad()) found = &p;
    }
    void module(const std::string&, Module<T>& child) override { child.visit(*this); }
    void flattened(const std::string&, Module<T>& child) override { child.visit(*this); }
  } first;
  m.visit(first);
  return first.found;
}
template Parameter<float>* first_trainable_parameter(Module<float>&);
template Parameter<double>* first_trainable_parameter(Module<double>&);

template class Module<float>;
template class Module<double>;

}  // namespace rwd
