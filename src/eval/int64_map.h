// Open-addressing hash map from non-negative int64 keys to int64 values, for
// renumbering widely spread labels in contingency_table's per-row loops:
// std::unordered_map allocates a node per key and is several times slower
// on 10^8 rows.
#pragma once

#include <cstdint>
#include <vector>

namespace distclust {
namespace detail {

class Int64Map {
 public:
  explicit Int64Map(size_t expected = 16) { rehash(capacity_for(expected)); }

  /// Value slot for key (>= 0), inserted as 0 when absent.
  int64_t& operator[](int64_t key) {
    if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
    size_t i = slot(key);
    if (keys_[i] < 0) {
      keys_[i] = key;
      ++size_;
    }
    return values_[i];
  }

  /// Value for key, or -1 when absent.
  int64_t find(int64_t key) const {
    size_t i = slot(key);
    return keys_[i] < 0 ? -1 : values_[i];
  }

  size_t size() const { return size_; }

  /// Calls f(key, value) for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (size_t i = 0; i < keys_.size(); ++i)
      if (keys_[i] >= 0) f(keys_[i], values_[i]);
  }

 private:
  static size_t capacity_for(size_t n) {
    size_t c = 16;
    while (c < n * 2) c *= 2;
    return c;
  }

  // Fibonacci hashing spreads consecutive labels and strided labels alike.
  size_t slot(int64_t key) const {
    size_t i = static_cast<size_t>((static_cast<uint64_t>(key) * 0x9E3779B97F4A7C15ull) >> shift_);
    while (keys_[i] >= 0 && keys_[i] != key) i = (i + 1) & (keys_.size() - 1);
    return i;
  }

  void rehash(size_t capacity) {
    std::vector<int64_t> old_keys(capacity, -1), old_values(capacity, 0);
    old_keys.swap(keys_);
    old_values.swap(values_);
    shift_ = 64;
    for (size_t c = capacity; c > 1; c /= 2) --shift_;
    for (size_t i = 0; i < old_keys.size(); ++i) {
      if (old_keys[i] < 0) continue;
      size_t j = slot(old_keys[i]);
      keys_[j] = old_keys[i];
      values_[j] = old_values[i];
    }
  }

  std::vector<int64_t> keys_;    // -1 marks an empty slot
  std::vector<int64_t> values_;
  size_t size_ = 0;
  int shift_ = 60;
};

}  // namespace detail
}  // namespace distclust
