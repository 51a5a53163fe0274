// Name scopes: a per-graph table of nested names ("encoder", "lstm.l0.fwd", "t=3") that each
// node of the tape points into with one small integer. A name is stored as a label and an
// optional index and only joined into a path ("lstm.l0.fwd/t=3") when someone asks (errors,
// DOT, reports), so opening a scope per time step costs a few stores and, once the table has
// grown to its working size, no heap allocation.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace rwd {

/// Index of a scope in its graph's ScopeTable; 0 is the root (no name).
using ScopeId = uint32_t;

class ScopeTable;

/// While alive, everything recorded on the graph belongs to this scope (RAII; made by
/// Graph::scope()). Scopes nest: one opened inside another is its child. Destroying it (or
/// close()) makes the scope that was current before it current again. Graph::clear() closes
/// every scope: a NameScope alive across clear() does nothing when it ends. It must not
/// outlive its graph.
class [[nodiscard]] NameScope {
 public:
  NameScope(const NameScope&) = delete;
  NameScope& operator=(const NameScope&) = delete;
  NameScope(NameScope&& other) noexcept
      : table_(other.table_),
        id_(other.id_),
        previous_(other.previous_),
        generation_(other.generation_) {
    other.table_ = nullptr;
  }
  NameScope& operator=(NameScope&&) = delete;
  ~NameScope() { close(); }

  /// This scope's id in the graph's ScopeTable.
  [[nodiscard]] ScopeId id() const { return id_; }
  /// Leaves the scope now; the destructor then does nothing.
  void close();

 private:
  friend class ScopeTable;
  NameScope(ScopeTable* table, ScopeId id, ScopeId previous, uint64_t generation)
      : table_(table), id_(id), previous_(previous), generation_(generation) {}

  ScopeTable* table_;
  ScopeId id_;
  ScopeId previous_;
  uint64_t generation_;
};

/// The scopes of one graph round: for each, its parent, its label and an optional index.
class ScopeTable {
 public:
  static constexpr ScopeId kRoot = 0;
  static constexpr int64_t kNoIndex = std::numeric_limits<int64_t>::min();

  ScopeTable();

  /// Opens a child of the current scope named `name`. Throws ValueError when the name is
  /// empty or contains '/' (the path separator).
  NameScope open(std::string_view name);
  /// Opens a child of the current scope named `prefix` followed by `index` in decimal
  /// ("t=" and 3 name it "t=3"). The name is not formatted until read, which makes this
  /// cheap enough for every time step; a prefix equal to the last scope's label reuses its
  /// text, so a run of steps stores "t=" once. Throws ValueError when the prefix contains
  /// '/'.
  NameScope open(std::string_view prefix, int64_t index) {
    const Entry& last = entries_.back();
    if (index != kNoIndex && last.text_size == prefix.size() &&
        std::string_view(text_.data() + last.text_begin, last.text_size) == prefix)
      return push_entry(last.text_begin, last.text_size, index);  // the per-step fast path
    return open_new_label(prefix, index);
  }

  /// The scope new nodes are recorded in.
  [[nodiscard]] ScopeId current() const { return current_; }
  /// Number of scopes, the root included.
  [[nodiscard]] size_t size() const { return entries_.size(); }
  /// The enclosing scope (the root is its own parent).
  [[nodiscard]] ScopeId parent(ScopeId id) const { return entries_[id].parent; }
  /// The name, or the prefix of an indexed name ("t=").
  [[nodiscard]] std::string_view label(ScopeId id) const {
    return {text_.data() + entries_[id].text_begin, entries_[id].text_size};
  }
  /// Whether the scope was opened with an index (a time step, for the sequence layers).
  [[nodiscard]] bool has_index(ScopeId id) const { return entries_[id].index != kNoIndex; }
  /// The index of an indexed scope, kNoIndex otherwise.
  [[nodiscard]] int64_t index(ScopeId id) const { return entries_[id].index; }
  /// The scope's own name ("t=3"); empty for the root.
  [[nodiscard]] std::string name(ScopeId id) const;
  /// The names from the outermost scope down to `id`, joined by '/' ("lstm.l0.fwd/t=3");
  /// empty for the root.
  [[nodiscard]] std::string path(ScopeId id) const;
  /// Whether `id` is `ancestor` or lies inside it.
  [[nodiscard]] bool is_within(ScopeId id, ScopeId ancestor) const;

  /// Forgets every scope but the root, keeping the memory; open NameScopes become inert.
  void clear();

 private:
  friend class NameScope;
  struct Entry {
    ScopeId parent;
    uint32_t text_begin;  // label: text_[text_begin, text_begin + text_size)
    uint32_t text_size;
    int64_t index;
  };
  NameScope open_new_label(std::string_view prefix, int64_t index);
  NameScope push(std::string_view label, int64_t index);
  NameScope push_entry(uint32_t text_begin, uint32_t text_size, int64_t index) {
    if (entries_.size() >= std::numeric_limits<ScopeId>::max()) throw_full();
    entries_.push_back({current_, text_begin, text_size, index});
    const ScopeId previous = current_;
    current_ = ScopeId(entries_.size() - 1);
    return {this, current_, previous, generation_};
  }
  [[noreturn]] void throw_full() const;

  std::vector<Entry> entries_;
  std::string text_;  // all labels, back to back
  ScopeId current_ = kRoot;
  uint64_t generation_ = 0;  // bumped by clear(), so stale NameScopes can tell
};

inline void NameScope::close() {
  if (table_ != nullptr && table_->generation_ == generation_) table_->current_ = previous_;
  table_ = nullptr;
}

}  // namespace rwd
