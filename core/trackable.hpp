// Trackable and Tracker: how one object keeps hold of another that may move. An optimizer
// holds its parameters and a schedule its optimizer, while users move models and optimizers
// freely (into a vector, out of a factory function); a raw pointer would dangle.
#pragma once

#include <memory>

namespace rwd {

template <class X>
class Tracker;

// Note [Tracking moves]
// A class X that others may hold derives from Trackable<X>. A Tracker<X> shares a small slot
// with the object that always holds the object's current address:
//   - moving X (constructing or assigning) hands its slot to the object moved to, so trackers
//     follow the value; the moved-from object has no slot;
//   - move-assigning onto X first empties X's own slot: what X held is gone;
//   - copying X makes a new object without a slot; copy-assigning onto X keeps X's slot (X is
//     the same object with new values);
//   - destroying X empties its slot.
// Tracker::get() is the current address, or nullptr once the object is gone, so a holder
// can report a destroyed object instead of reading freed memory. The slot is made only when
// the first Tracker asks for it. Moving an object while another thread uses a tracker of it
// is a data race, as moving anything under a reader is.

/// Base of a class whose objects Tracker can follow through moves (Note [Tracking moves]).
template <class X>
class Trackable {
 protected:
  Trackable() = default;
  Trackable(const Trackable& /*other*/) noexcept {}
  Trackable& operator=(const Trackable& /*other*/) noexcept { return *this; }
  Trackable(Trackable&& other) noexcept : tracking_slot_(std::move(other.tracking_slot_)) {
    if (tracking_slot_) tracking_slot_->at = this;
  }
  Trackable& operator=(Trackable&& other) noexcept {
    if (this != &other) {
      release_tracking();
      tracking_slot_ = std::move(other.tracking_slot_);
      if (tracking_slot_) tracking_slot_->at = this;
    }
    return *this;
  }
  ~Trackable() { release_tracking(); }

 private:
  friend class Tracker<X>;
  struct TrackingSlot {
    Trackable* at;
  };
  void release_tracking() noexcept {
    if (tracking_slot_) {
      tracking_slot_->at = nullptr;
      tracking_slot_.reset();
    }
  }

  std::shared_ptr<TrackingSlot> tracking_slot_;
};

/// Follows one object of a Trackable class through its moves (Note [Tracking moves]).
template <class X>
class Tracker {
 public:
  Tracker() = default;
  explicit Tracker(X& x) : tracking_slot_(tracking_slot_of(x)) {}

  /// Where the object is now; nullptr when it was destroyed or overwritten by a move.
  [[nodiscard]] X* get() const {
    return tracking_slot_ && tracking_slot_->at != nullptr ? static_cast<X*>(tracking_slot_->at)
                                                           : nullptr;
  }

 private:
  using TrackingSlot = typename Trackable<X>::TrackingSlot;
  static std::shared_ptr<TrackingSlot> tracking_slot_of(X& x) {
    Trackable<X>& base = x;
    if (!base.tracking_slot_)
      base.tracking_slot_ = std::make_shared<TrackingSlot>(TrackingSlot{&base});
    return base.tracking_slot_;
  }

  std::shared_ptr<TrackingSlot> tracking_slot_;
};

}  // namespace rwd
