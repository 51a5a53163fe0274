// Module: a named tree of parameters (dotted names as in a PyTorch state_dict), with train /
// eval mode and state_dict() / load_state_dict(). A module lists its own parameters and
// children in visit(); nothing stores pointers to members, so modules stay movable.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "rewind/core/parameter.hpp"
#include "rewind/core/tensor.hpp"

namespace rwd {

template <Scalar T>
class Module;

/// What Module::visit() reports to: each own parameter and each direct child, by name.
template <Scalar T>
class ModuleVisitor {
 public:
  virtual void parameter(const std::string& name, Parameter<T>& p) = 0;
  /// A child whose parameters are named "<name>.<its name>".
  virtual void module(const std::string& name, Module<T>& child) = 0;
  /// A child whose parameters are listed as if they were this module's own, with `suffix`
  /// appended to each name: how sequence layers give their cells' weights PyTorch's names
  /// (weight_ih + "_l0_reverse").
  virtual void flattened(const std::string& suffix, Module<T>& child) = 0;

 protected:
  ModuleVisitor() = default;
  ModuleVisitor(const ModuleVisitor&) = default;
  ModuleVisitor& operator=(const ModuleVisitor&) = default;
  ~ModuleVisitor() = default;
};

template <Scalar T>
class Module {
 public:
  virtual ~Module() = default;

  /// Reports this module's own parameters and direct children, always in the same order.
  virtual void visit(ModuleVisitor<T>& v) = 0;

  /// Every parameter of this module and its descendants, with dotted names
  /// ("encoder.weight_ih_l0"), in visit order.
  [[nodiscard]] std::vector<NamedParameter<T>> named_parameters();
  [[nodiscard]] std::vector<Parameter<T>*> parameters();
  /// Total number of scalar parameters.
  [[nodiscard]] int64_t num_parameters();
  void zero_grad();

  /// Training mode (dropout active) for this module and all descendants.
  void train(bool on = true);
  void eval() { train(false); }
  [[nodiscard]] bool is_training() const { return training_; }

  /// Copies of all parameters by dotted name.
  [[nodiscard]] std::map<std::string, Tensor<T>> state_dict();
  /// Loads every parameter from `state`. Throws ValueError naming the key when one is
  /// missing or unexpected, ShapeError when a shape differs; checks everything before
  /// copying anything, so a failed load leaves the module unchanged.
  void load_state_dict(const std::map<std::string, Tensor<T>>& state);

 protected:
  Module() = default;
  Module(const Module&) = default;
  Module& operator=(const Module&) = default;
  Module(Module&&) noexcept = default;
  Module& operator=(Module&&) noexcept = default;

 private:
  bool training_ = true;
};

/// The first parameter of `m` (in visit order) that requires a gradient, or nullptr.
template <Scalar T>
Parameter<T>* first_trainable_parameter(Module<T>& m);

extern template class Module<float>;
extern template class Module<double>;

}  // namespace rwd
