// Internal to src/report: plots as inline SVG text, so the report needs no
// script or plotting library and opens offline.
#pragma once

#include <string>
#include <vector>

namespace distclust::report {

/// One line of a line chart: y at x = x0, x0 + 1, ... (NaN values leave gaps).
struct Series {
  std::string name;
  std::vector<double> y;
  bool highlight = false;  ///< drawn thicker (e.g. SCAN's chosen head)
};

/// Line chart with axes, ticks, a title and a legend (when several series)
/// in a column right of the plot area, so it covers no curve.
/// x0: the x of the first value (0 for epochs counted from 0, 1 for iterations).
std::string svg_lines(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Series>& series, double x0 = 1, int width = 640, int height = 260);

/// Bar chart: values[i] over labels[i] (only some labels are written when
/// there are many bars). href: optional link per bar (e.g. "#cluster-3").
std::string svg_bars(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                     const std::vector<double>& values, const std::vector<std::string>& labels,
                     const std::vector<std::string>& href = {}, int width = 640, int height = 260);

/// "Nice" axis ticks covering [lo, hi]: about `want` round numbers.
std::vector<double> nice_ticks(double lo, double hi, int want = 5);

}  // namespace distclust::report
