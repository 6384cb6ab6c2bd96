// The one JSON reader and string writer: model sidecar files, class-name
// lists in features.h5, scores.json. Full JSON syntax is accepted (nested
// values, escapes, \u sequences and surrogate pairs); errors give line and
// column.
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

/// s as a JSON string literal: quoted, with '"', '\\' and control
/// characters escaped, and each byte that is not part of well-formed UTF-8
/// written as U+FFFD (file names need not be UTF-8; JSON must be).
std::string quote(const std::string& s);

/// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlong
/// forms, no surrogates, at most U+10FFFF), or 0 when it is not one.
size_t utf8_length(const std::string& s, size_t i);

/// s with each byte that is not part of well-formed UTF-8 written as the
/// four characters \xNN: valid UTF-8 that keeps names apart, for names
/// people read (class folders "caf\xE9" and "caf\xE8" both became
/// "caf\uFFFD" in quote(), one class name for two classes).
std::string escape_invalid_utf8(const std::string& s);

/// A JSON list of strings: ["a", "b"].
std::string string_list(const std::vector<std::string>& items);

}  // namespace distclust::json
