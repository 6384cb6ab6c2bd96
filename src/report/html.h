// Internal to src/report: small text helpers for the HTML page.
#pragma once

#include <string>

namespace distclust::report {

/// Escapes & < > " ' so any text (paths, class names, titles) is safe in
/// element content and in quoted attributes.
std::string html_escape(const std::string& s);

/// A path as a URL path: bytes other than A-Z a-z 0-9 - . _ ~ / are
/// percent-encoded (spaces, #, ?, %, quotes, non-ASCII), so any file name
/// survives in an href.
std::string url_path_escape(const std::string& path);

/// "file://" + url_path_escape(absolute path): a link to a local file.
std::string file_url(const std::string& absolute_path);

/// A number for people: %.*g with `digits` significant digits ("0.9134").
std::string num(double v, int digits = 4);

/// Fixed decimals ("0.913"); "–" for NaN.
std::string fixed(double v, int decimals = 3);

}  // namespace distclust::report
