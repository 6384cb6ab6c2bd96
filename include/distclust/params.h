// The params-struct convention. Every stage has one struct whose fields carry
// a doc comment and a default, and which lists its fields once:
//
//   struct KMeansParams {
//     int k = 10;  ///< number of clusters
//     template <class V> void visit(V& v) { v("k", k, "number of clusters"); }
//     void validate() const;   // throws Error naming the bad value
//   };
//
// From that single list come the YAML section (config.h: unknown keys are an
// error naming the key), the CLI flags (--k; '_' becomes '-'), --set overrides,
// the resolved config written beside outputs, and the config hash.
// Field types: bool, int, int64_t, double, float, std::string,
// std::vector<float>.
#pragma once

#include <cstdint>
#include <string>

namespace distclust {

/// Visitor that does nothing; lets code count or inspect fields generically.
struct NullVisitor {
  template <class T> void operator()(const char*, T&, const char*) {}
};

}  // namespace distclust
