// Keyed randomness: every random draw is a pure function of (seed, keys...),
// e.g. (seed, global row), never of the rank or of draw order, so one seed
// gives the same result for any number of ranks.
#pragma once

#include <cstdint>

namespace distclust {

/// splitmix64 finaliser: a strong 64-bit mix.
inline uint64_t mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// Hash of a seed and up to three keys.
inline uint64_t key_hash(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return mix64(mix64(mix64(mix64(seed) ^ a) ^ b) ^ c);
}

/// Uniform double in [0, 1) from a hash.
inline double unit_double(uint64_t h) { return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0); }

/// Small counter-based generator: stream (seed, key), draw i is key_hash(..., i).
class KeyedRng {
 public:
  KeyedRng(uint64_t seed, uint64_t key) : seed_(seed), key_(key) {}
  uint64_t next() { return key_hash(seed_, key_, counter_++); }
  double uniform() { return unit_double(next()); }
  /// Standard normal (Box-Muller; one draw per call, the pair's twin is dropped
  /// so the stream position stays a simple counter).
  double normal();
  /// Uniform integer in [0, n).
  uint64_t below(uint64_t n) { return n ? next() % n : 0; }

 private:
  uint64_t seed_, key_, counter_ = 0;
};

}  // namespace distclust
