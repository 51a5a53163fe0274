// The scope table: opening scopes and formatting their names on request.
#include "rewind/core/scope.hpp"

#include <fmt/format.h>

#include "rewind/core/error.hpp"

namespace rwd {

ScopeTable::ScopeTable() {
  entries_.push_back({kRoot, 0, 0, kNoIndex});
}

NameScope ScopeTable::open(std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos)
    throw ValueError(fmt::format(
        "scope: name '{}' must not be empty or contain '/' (it separates nested scopes)", name));
  return push(name, kNoIndex);
}

NameScope ScopeTable::open_new_label(std::string_view prefix, int64_t index) {
  if (prefix.find('/') != std::string_view::npos)
    throw ValueError(fmt::format(
        "scope: prefix '{}' must not contain '/' (it separates nested scopes)", prefix));
  if (index == kNoIndex)
    throw ValueError(fmt::format("scope: index {} is reserved (it means no index)", index));
  return push(prefix, index);
}

NameScope ScopeTable::push(std::string_view label, int64_t index) {
  if (text_.size() + label.size() >= std::numeric_limits<uint32_t>::max()) throw_full();
  const auto begin = uint32_t(text_.size());
  text_.append(label);
  return push_entry(begin, uint32_t(label.size()), index);
}

void ScopeTable::throw_full() const {
  throw GraphError(fmt::format("scope: the scope table is full ({} scopes, {} bytes of names)",
                               entries_.size(), text_.size()));
}

std::string ScopeTable::name(ScopeId id) const {
  std::string out(label(id));
  if (has_index(id)) fmt::format_to(std::back_inserter(out), "{}", index(id));
  return out;
}

std::string ScopeTable::path(ScopeId id) const {
  std::vector<ScopeId> chain;  // id, its parent, ..., below the root
  for (ScopeId s = id; s != kRoot; s = parent(s)) chain.push_back(s);
  std::string out;
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    if (!out.empty()) out += '/';
    out += name(*it);
  }
  return out;
}

bool ScopeTable::is_within(ScopeId id, ScopeId ancestor) const {
  for (ScopeId s = id;; s = parent(s)) {
    if (s == ancestor) return true;
    if (s == kRoot) return false;
  }
}

void ScopeTable::clear() {
  entries_.resize(1);
  text_.clear();
  current_ = kRoot;
  ++generation_;
}

}  // namespace rwd
