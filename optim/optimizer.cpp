// The Optimizer base: parameter bookkeeping, the gradient pass before each update, and the
// state dict (save, and all-or-nothing restore).
#include "rewind/optim/optimizer.hpp"

#include <fmt/format.h>

#include <cmath>
#include <map>
#include <utility>

#include "rewind/core/error.hpp"

namespace rwd {

void detail::check_option(bool ok, const std::string& who, const char* option, const char* rule,
                          double value) {
  if (!ok) throw ValueError(fmt::format("{}: {} must be {}, got {}", who, option, rule, value));
}

template <Scalar T>
Optimizer<T>::Optimizer(std::string name, std::vector<NamedParameter<T>> params, double lr,
                        const GradientOptions& gradient_options)
    : name_(std::move(name)),
      step_label_(name_ + ".step"),
      params_(std::move(params)),
      steps_(params_.size(), 0) {
  if (params_.empty()) throw ValueError(fmt::format("{}: empty parameter list", name_));
  std::map<std::string, size_t> by_name;
  std::map<const Parameter<T>*, size_t> by_address;
  for (size_t i = 0; i < params_.size(); ++i) {
    const NamedParameter<T>& p = params_[i];
    if (p.param == nullptr)
      throw ValueError(fmt::format("{}: parameter '{}' is a null pointer", name_, p.name));
    if (!by_name.emplace(p.name, i).second)
      throw ValueError(fmt::format("{}: two parameters are named '{}' (at positions {} and {})",
                                   name_, p.name, by_name[p.name], i));
    if (auto [it, fresh] = by_address.emplace(p.param, i); !fresh)
      throw ValueError(fmt::format("{}: parameter '{}' is the same Parameter as '{}'", name_,
                                   p.name, params_[it->second].name));
  }
  trackers_.reserve(params_.size());
  shapes_.reserve(params_.size());
  for (const NamedParameter<T>& p : params_) {
    trackers_.emplace_back(*p.param);
    shapes_.push_back(p.param->shape());
  }
  set_lr(lr);
  set_gradient_options(gradient_options);
}

template <Scalar T>
void Optimizer<T>::set_lr(double lr) {
  detail::check_option(std::isfinite(lr) && lr >= 0, name_, "lr", "finite and >= 0", lr);
  lr_ = lr;
}

template <Scalar T>
void Optimizer<T>::set_gradient_options(const GradientOptions& options) {
  detail::validate(name_.c_str(), options);
  gradient_options_ = options;
}

template <Scalar T>
void Optimizer<T>::locate_parameters() const {
  if (trackers_.empty())
    throw ValueError(
        "Optimizer: this optimizer was moved from and has no parameters; use the optimizer it "
        "was moved to");
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter<T>* p = trackers_[i].get();
    if (p == nullptr)
      throw ValueError(fmt::format(
          "{}: parameter '{}' no longer exists (its module was destroyed, or overwritten by a "
          "move-assignment); build the optimizer on the parameters being trained now",
          name_, params_[i].name));
    if (!(p->shape() == shapes_[i]))
      throw ShapeError(fmt::format(
          "{}: parameter '{}' has shape {} but had shape {} when the optimizer was built", name_,
          params_[i].name, p->shape().str(), shapes_[i].str()));
    params_[i].param = p;
  }
}

template <Scalar T>
std::span<const NamedParameter<T>> Optimizer<T>::parameters() const {
  locate_parameters();
  return params_;
}

template <Scalar T>
bool Optimizer<T>::step() {
  locate_parameters();
  double norm = 0;
  if (!detail::process_gradients<T>(step_label_.c_str(), params_, gradient_options_, stats_, norm))
    return false;
  for (size_t i = 0; i < params_.size(); ++i) {
    Parameter<T>& p = *params_[i].param;
    if (!p.requires_grad()) continue;
    update(i, p, ++steps_[i]);
  }
  return true;
}

template <Scalar T>
void Optimizer<T>::zero_grad() {
  locate_parameters();
  for (const NamedParameter<T>& p : params_) p.param->zero_grad();
}

template <Scalar T>
size_t Optimizer<T>::add_state(std::string key, T init) {
  Buffer b{std::move(key), {}};
  b.tensors.reserve(params_.size());
  for (const NamedParameter<T>& p : params_)
    b.tensors.push_back(Tensor<T>::full(p.param->shape(), init));
  buffers_.push_back(std::move(b));
  return buffers_.size() - 1;
}

template <Scalar T>
StateDict<T> Optimizer<T>::state_dict() const {
  StateDict<T> out;
  for (const Buffer& b : buffers_)
    for (size_t i = 0; i < params_.size(); ++i)
      out.emplace(b.key + "." + params_[i].name, b.tensors[i]);
  for (size_t i = 0; i < params_.size(); ++i)
    out.emplace("step." + params_[i].name, Tensor<T>::full(Shape{}, T(steps_[i])));
  return out;
}

template <Scalar T>
void Optimizer<T>::load_state_dict(const StateDict<T>& state) {
  locate_parameters();
  const std::string who = name_ + ".load_state_dict";
  // Every key this optimizer expects, with its parameter; buffer == kStep marks a step count.
  constexpr auto kStep = size_t(-1);
  struct Slot {
    size_t buffer;
    size_t index;
    const Tensor<T>* source = nullptr;
  };
  std::map<std::string, Slot> expected;
  for (size_t b = 0; b < buffers_.size(); ++b)
    for (size_t i = 0; i < params_.size(); ++i)
      expected.emplace(buffers_[b].key + "." + params_[i].name, Slot{b, i});
  for (size_t i = 0; i < params_.size(); ++i)
    expected.emplace("step." + params_[i].name, Slot{kStep, i});

  // 1. Check everything.
  size_t missing = 0;
  const std::string* first_missing = nullptr;
  for (auto& [key, slot] : expected) {
    auto it = state.find(key);
    if (it == state.end()) {
      if (missing++ == 0) first_missing = &key;
      continue;
    }
    slot.source = &it->second;
  }
  if (missing > 0)
    throw ValueError(fmt::format("{}: missing key '{}' ({} of the {} expected keys are missing)",
                                 who, *first_missing, missing, expected.size()));
  for (const auto& [key, tensor] : state)
    if (!expected.contains(key))
      throw ValueError(fmt::format("{}: unexpected key '{}' ({} keys given, {} expected)", who, key,
                                   state.size(), expected.size()));
  for (const auto& [key, slot] : expected) {
    const Tensor<T>& t = *slot.source;
    const NamedParameter<T>& p = params_[slot.index];
    const Shape want = slot.buffer == kStep ? Shape{} : p.param->shape();
    if (t.empty() || !(t.shape() == want))
      throw ShapeError(fmt::format(
          "{}: key '{}' has shape {}{} but {} needs {}", who, key, t.shape().str(),
          t.empty() ? " and no storage" : "",
          slot.buffer == kStep ? "a step count" : "parameter '" + p.name + "'", want.str()));
    if (slot.buffer == kStep) {
      const auto v = double(t.item());
      constexpr double kMaxStep = 9007199254740992.0;  // 2^53: every whole number below is exact
      if (!(v >= 0 && v <= kMaxStep && v == std::floor(v)))
        throw ValueError(fmt::format(
            "{}: key '{}' holds {}, which is not a step count (a whole number >= 0)", who, key, v));
    }
  }

  // 2. Copy.
  for (const auto& [key, slot] : expected) {
    if (slot.buffer == kStep)
      steps_[slot.index] = int64_t(slot.source->item());
    else
      buffers_[slot.buffer].tensors[slot.index] = *slot.source;
  }
}

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace rwd
