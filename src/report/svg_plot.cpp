#include "report/svg_plot.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "report/html.h"

namespace distclust::report {

namespace {

const char* kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                          "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

struct Frame {
  int w, h;
  double l = 60, r = 16, t = 30, b = 44;
  double x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  double px(double x) const { return l + (x - x_lo) / (x_hi - x_lo) * (w - l - r); }
  double py(double y) const { return h - b - (y - y_lo) / (y_hi - y_lo) * (h - t - b); }
};

std::string open_svg(const Frame& f, const std::string& title) {
  std::ostringstream o;
  o << "<svg class=\"plot\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" << f.w << "\" height=\"" << f.h
    << "\" viewBox=\"0 0 " << f.w << ' ' << f.h << "\" role=\"img\" aria-label=\"" << html_escape(title) << "\">"
    << "<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>"
    << "<text x=\"" << f.w / 2 << "\" y=\"18\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">"
    << html_escape(title) << "</text>";
  return o.str();
}

std::string axes(const Frame& f, const std::string& xlabel, const std::string& ylabel, bool x_ticks) {
  std::ostringstream o;
  o << "<g font-size=\"11\" fill=\"#333\">";
  for (double y : nice_ticks(f.y_lo, f.y_hi)) {
    if (y < f.y_lo - 1e-12 * std::abs(f.y_hi) || y > f.y_hi + 1e-12 * std::abs(f.y_hi)) continue;
    o << "<line x1=\"" << f.l << "\" x2=\"" << f.w - f.r << "\" y1=\"" << f.py(y) << "\" y2=\"" << f.py(y)
      << "\" stroke=\"#e5e5e5\"/><text x=\"" << f.l - 6 << "\" y=\"" << f.py(y) + 4 << "\" text-anchor=\"end\">"
      << num(y, 6) << "</text>";
  }
  if (x_ticks) {
    for (double x : nice_ticks(f.x_lo, f.x_hi, 8)) {
      // x counts epochs or iterations: no tick between two of them.
      if (x < f.x_lo || x > f.x_hi || x != std::floor(x)) continue;
      o << "<text x=\"" << f.px(x) << "\" y=\"" << f.h - f.b + 16 << "\" text-anchor=\"middle\">" << num(x, 6)
        << "</text>";
    }
  }
  o << "<line x1=\"" << f.l << "\" x2=\"" << f.w - f.r << "\" y1=\"" << f.h - f.b << "\" y2=\"" << f.h - f.b
    << "\" stroke=\"#333\"/><line x1=\"" << f.l << "\" x2=\"" << f.l << "\" y1=\"" << f.t << "\" y2=\"" << f.h - f.b
    << "\" stroke=\"#333\"/>";
  o << "<text x=\"" << (f.l + f.w - f.r) / 2 << "\" y=\"" << f.h - 6 << "\" text-anchor=\"middle\">"
    << html_escape(xlabel) << "</text>";
  o << "<text transform=\"translate(14," << (f.t + f.h - f.b) / 2 << ") rotate(-90)\" text-anchor=\"middle\">"
    << html_escape(ylabel) << "</text></g>";
  return o.str();
}

void padded_range(double& lo, double& hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (hi <= lo) {
    double d = lo == 0 ? 1 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
}

/// One series as a path (a gap at each non-finite value; a dot when it is
/// one value), its name as the hover title.
std::string curve(const Frame& f, const Series& s, const char* col, double x0, bool alone) {
  std::ostringstream o, path;
  bool pen = false;
  for (size_t j = 0; j < s.y.size(); ++j) {
    if (!std::isfinite(s.y[j])) {
      pen = false;
      continue;
    }
    path << (pen ? " L" : " M") << f.px(x0 + double(j)) << ' ' << f.py(s.y[j]);
    pen = true;
  }
  o << "<path d=\"" << path.str() << "\" fill=\"none\" stroke=\"" << col << "\" stroke-width=\""
    << (s.highlight ? 2.8 : 1.4) << "\"" << (s.highlight || alone ? "" : " stroke-opacity=\"0.7\"") << "><title>"
    << html_escape(s.name) << "</title></path>";
  if (s.y.size() == 1 && std::isfinite(s.y[0]))
    o << "<circle cx=\"" << f.px(x0) << "\" cy=\"" << f.py(s.y[0]) << "\" r=\"3\" fill=\"" << col << "\"/>";
  return o.str();
}

/// The legend column at x: as many names as fit the plot's height, then "+N more".
std::string legend(const Frame& f, const std::vector<Series>& series, double x) {
  std::ostringstream o;
  const size_t rows = std::max<size_t>(2, size_t((f.h - f.t) / 14));
  const size_t shown = series.size() <= rows ? series.size() : rows - 1;
  o << "<g class=\"legend\" font-size=\"11\">";
  double y = f.t + 4;
  for (size_t i = 0; i < shown; ++i, y += 14) {
    o << "<rect x=\"" << x << "\" y=\"" << y << "\" width=\"10\" height=\"10\" fill=\"" << kColours[i % 10]
      << "\"/><text x=\"" << x + 14 << "\" y=\"" << y + 9 << "\""
      << (series[i].highlight ? " font-weight=\"bold\"" : "") << ">" << html_escape(series[i].name) << "</text>";
  }
  if (shown < series.size())
    o << "<text x=\"" << x << "\" y=\"" << y + 9 << "\">+" << series.size() - shown << " more</text>";
  o << "</g>";
  return o.str();
}

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int want) {
  std::vector<double> out;
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  double raw = (hi - lo) / std::max(1, want);
  double mag = std::pow(10.0, std::floor(std::log10(raw)));
  double step = mag;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (m * mag >= raw) {
      step = m * mag;
      break;
    }
  // Ticks by index: a range below the values' precision (a log-likelihood
  // curve flat at -1.2149...) gave a step under their rounding, v += step
  // never moved, and the loop filled memory until bad_alloc.
  const double first = std::ceil(lo / step) * step;
  const double count = std::floor((hi - first) / step + 1e-9) + 1;
  if (!(count >= 1) || count > 1000 || first + step == first) return {lo};
  for (int i = 0; i < int(count); ++i) {
    const double v = first + double(i) * step;
    out.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
  }
  return out;
}

std::string svg_lines(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                      const std::vector<Series>& series, double x0, int width, int height) {
  Frame f{width, height};
  // The legend gets a column of its own right of the plot, so it never covers a curve.
  double legend_w = 0;
  if (series.size() > 1) {
    size_t chars = 6;
    for (const auto& s : series) chars = std::max(chars, s.name.size());
    legend_w = std::min(200.0, 24.0 + 6.5 * double(chars));
    f.r += legend_w;
  }
  size_t len = 0;
  double lo = INFINITY, hi = -INFINITY;
  for (const auto& s : series) {
    len = std::max(len, s.y.size());
    for (double v : s.y)
      if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  padded_range(lo, hi);
  double pad = (hi - lo) * 0.05;
  f.y_lo = lo - pad;
  f.y_hi = hi + pad;
  f.x_lo = x0;
  f.x_hi = x0 + std::max<double>(1, double(len) - 1);
  std::ostringstream o;
  o << open_svg(f, title) << axes(f, xlabel, ylabel, true);
  for (size_t i = 0; i < series.size(); ++i) o << curve(f, series[i], kColours[i % 10], x0, series.size() == 1);
  if (series.size() > 1) o << legend(f, series, f.w - legend_w + 4);  // right of the plot area (ends at f.w - f.r)
  o << "</svg>";
  return o.str();
}

std::string svg_bars(const std::string& title, const std::string& xlabel, const std::string& ylabel,
                     const std::vector<double>& values, const std::vector<std::string>& labels,
                     const std::vector<std::string>& href, int width, int height) {
  Frame f{width, height};
  double hi = 0;
  for (double v : values)
    if (std::isfinite(v)) hi = std::max(hi, v);
  f.y_lo = 0;
  f.y_hi = hi > 0 ? hi * 1.05 : 1;
  f.x_lo = 0;
  f.x_hi = std::max<double>(1, double(values.size()));
  std::ostringstream o;
  o << open_svg(f, title) << axes(f, xlabel, ylabel, false);
  double bw = (f.w - f.l - f.r) / f.x_hi;
  size_t every = std::max<size_t>(1, size_t(std::ceil(values.size() * 28.0 / (f.w - f.l - f.r))));
  o << "<g font-size=\"10\" fill=\"#333\">";
  for (size_t i = 0; i < values.size(); ++i) {
    double v = std::isfinite(values[i]) ? values[i] : 0;
    double x = f.px(double(i)), y = f.py(v);
    std::string lab = i < labels.size() ? labels[i] : std::to_string(i);
    bool link = i < href.size() && !href[i].empty();
    if (link) o << "<a href=\"" << html_escape(href[i]) << "\">";
    o << "<rect x=\"" << x + bw * 0.1 << "\" y=\"" << y << "\" width=\"" << std::max(0.5, bw * 0.8) << "\" height=\""
      << std::max(0.0, f.py(0) - y) << "\" fill=\"#4c78a8\"><title>" << html_escape(lab) << ": " << num(v, 8)
      << "</title></rect>";
    if (link) o << "</a>";
    if (i % every == 0)
      o << "<text x=\"" << x + bw / 2 << "\" y=\"" << f.h - f.b + 14 << "\" text-anchor=\"middle\">" << html_escape(lab)
        << "</text>";
  }
  o << "</g></svg>";
  return o.str();
}

}  // namespace distclust::report
