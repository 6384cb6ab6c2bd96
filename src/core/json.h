// Internal to src/extract: a small JSON reader for model sidecar files (a
// flat object of numbers, strings and arrays). Full JSON syntax is accepted
// (nested values, escapes, \u sequences); errors give line and column.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace distclust::json {

struct Value {
  enum class Type { null, boolean, number, string, array, object } type = Type::null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Value> arr;
  std::map<std::string, Value> obj;

  const char* type_name() const;
};

/// Parses text; `where` (a file name) prefixes error messages:
/// "model.json:3:7: expected ',' or '}' in object".
Value parse(const std::string& text, const std::string& where);

}  // namespace distclust::json
