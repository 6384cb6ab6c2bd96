#include "eval/score_text.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace distclust {

std::string score_text(double v, int decimals) {
  if (std::isnan(v)) return "nan";
  char text[64];
  for (int d = decimals; d <= 9; ++d) {
    std::snprintf(text, sizeof text, "%.*f", d, v);
    if (v >= 1 || std::strtod(text, nullptr) < 1) return text;
  }
  std::snprintf(text, sizeof text, "%.9f", std::floor(v * 1e9) / 1e9);  // nearer to 1 than 1e-9: round down
  return text;
}

}  // namespace distclust
