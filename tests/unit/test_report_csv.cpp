// CSV quoting of report/csv.h: fields that must survive a round trip through
// any RFC 4180 reader (the e2e test reads them back with Python's csv).
#include <gtest/gtest.h>

#include "export/csv.h"

namespace distclust::report {
namespace {

TEST(report_csv, PlainFieldsAreNotQuoted) {
  EXPECT_EQ(csv_field(""), "");
  EXPECT_EQ(csv_field("a/b/c.png"), "a/b/c.png");
  EXPECT_EQ(csv_field("0.5"), "0.5");
  EXPECT_EQ(csv_field("caf\xc3\xa9 d'or.jpg"), "caf\xc3\xa9 d'or.jpg");  // UTF-8 and apostrophes as they are
}

TEST(report_csv, CommasQuotesAndLineBreaksAreQuoted) {
  EXPECT_EQ(csv_field("a,b.png"), "\"a,b.png\"");
  EXPECT_EQ(csv_field("say \"hi\".png"), "\"say \"\"hi\"\".png\"");
  EXPECT_EQ(csv_field("\""), "\"\"\"\"");
  EXPECT_EQ(csv_field("two\nlines"), "\"two\nlines\"");
  EXPECT_EQ(csv_field("cr\rhere"), "\"cr\rhere\"");
}

TEST(report_csv, EdgeSpacesAreQuotedSoReadersDoNotTrimThem) {
  EXPECT_EQ(csv_field(" lead.png"), "\" lead.png\"");
  EXPECT_EQ(csv_field("trail.png "), "\"trail.png \"");
  EXPECT_EQ(csv_field("in side.png"), "in side.png");
}

// OWASP "CSV injection": a cell starting with = + - @ TAB CR is a formula.
TEST(report_csv, SpreadsheetSafePrefixesFormulaStarts) {
  EXPECT_EQ(spreadsheet_safe("=HYPERLINK(\"x\").png"), "'=HYPERLINK(\"x\").png");
  EXPECT_EQ(spreadsheet_safe("+1.png"), "'+1.png");
  EXPECT_EQ(spreadsheet_safe("-2.png"), "'-2.png");
  EXPECT_EQ(spreadsheet_safe("@SUM.png"), "'@SUM.png");
  EXPECT_EQ(spreadsheet_safe("\tcmd.png"), "'\tcmd.png");
  EXPECT_EQ(spreadsheet_safe("\rcmd.png"), "'\rcmd.png");
  EXPECT_EQ(spreadsheet_safe("a=b.png"), "a=b.png");
  EXPECT_EQ(spreadsheet_safe("/data/x.png"), "/data/x.png");
  EXPECT_EQ(spreadsheet_safe(""), "");
  EXPECT_EQ(csv_line({"1", spreadsheet_safe("=a,b"), "-1"}), "1,\"'=a,b\",-1\n");
}

TEST(report_csv, LineJoinsFieldsAndEndsWithNewline) {
  EXPECT_EQ(csv_line({"row", "path", "cluster"}), "row,path,cluster\n");
  EXPECT_EQ(csv_line({"3", "x,\"y\".png", "-1", "", ""}), "3,\"x,\"\"y\"\".png\",-1,,\n");
  EXPECT_EQ(csv_line({}), "\n");
}

}  // namespace
}  // namespace distclust::report
