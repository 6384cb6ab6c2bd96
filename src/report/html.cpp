#include "report/html.h"

#include <cctype>
#include <cmath>
#include <cstdio>

namespace distclust::report {

std::string html_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
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
