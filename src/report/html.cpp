#include "report/html.h"

#include <cctype>
#include <cmath>
#include <cstdio>

#include "core/json.h"

namespace distclust::report {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    // The page is declared UTF-8: a name that is not (a Latin-1 folder)
    // shows U+FFFD per stray byte instead of making the file invalid.
    if (static_cast<unsigned char>(c) >= 0x80) {
      const size_t n = json::utf8_length(s, i);
      if (n == 0) {
        out += "\xEF\xBF\xBD";
      } else {
        out.append(s, i, n);
        i += n - 1;
      }
      continue;
    }
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string url_path_escape(const std::string& path) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size());
  for (unsigned char c : path) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string file_url(const std::string& absolute_path) { return "file://" + url_path_escape(absolute_path); }

std::string num(double v, int digits) {
  if (std::isnan(v)) return "\u2013";
  char b[64];
  std::snprintf(b, sizeof(b), "%.*g", digits, v);
  return b;
}

std::string fixed(double v, int decimals) {
  if (std::isnan(v)) return "\u2013";
  char b[64];
  std::snprintf(b, sizeof(b), "%.*f", decimals, v);
  return b;
}

}  // namespace distclust::report
