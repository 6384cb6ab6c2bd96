#include "report/html.h"

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
