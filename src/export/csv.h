// CSV text as RFC 4180 writes it, so that paths with
// commas, quotes or line breaks read back unchanged (Python's csv module,
// pandas, spreadsheets).
#pragma once

#include <string>
#include <vector>

namespace distclust {

/// One field: quoted when it holds a comma, a double quote, CR or LF, or
/// starts or ends with a space (some readers trim those); inner quotes are
/// doubled. Anything else is written as is.
std::string csv_field(const std::string& s);

/// A text field (a path) that a spreadsheet must not run: one starting with
/// = + - @ TAB or CR gets a leading ' (OWASP, "CSV injection"); quoting is
/// left to csv_line. Numbers are not passed through this ("-1" stays).
std::string spreadsheet_safe(const std::string& s);

/// Fields joined by commas, ending with "\n".
std::string csv_line(const std::vector<std::string>& fields);

}  // namespace distclust
