// Scores as text for people (the console, the run summary, the report): a
// fixed number of decimals, except that a score below 1 never reads as a
// perfect 1.000: ACC 0.9995 printed with three decimals rounded up to 1.000
// and claimed a perfect clustering. Files (scores.json) keep every digit.
#pragma once

#include <string>

namespace distclust {

/// v with `decimals` decimals ("0.918"); when v < 1 would print as 1.000,
/// as many more decimals as it takes to show it is not 1 (at most 9:
/// "0.9995", "0.99999").
std::string score_text(double v, int decimals = 3);

}  // namespace distclust
