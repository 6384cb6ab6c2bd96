// File-side pieces of the report and export: output folders that appear
// whole, strings in HDF5 (fixed and variable length), class-name lists,
// thumbnails of good and bad images, HTML escaping, plot ticks.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/imgcodecs.hpp>
#include <string>
#include <vector>

#include "common/test_common.h"
#include "distclust/error.h"
#include "report/clustering.h"
#include "io/h5_strings.h"
#include "core/json.h"
#include "report/html.h"
#include "io/out_dir.h"
#include "io/output_identity.h"
#include "report/svg_plot.h"
#include "report/thumbnails.h"

namespace fs = std::filesystem;

namespace distclust::report {
namespace {

class report_files : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("dc_report_files_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string at(const std::string& name) const { return (dir_ / name).string(); }
  static void touch(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string slurp(const std::string& path) {
    std::ifstream f(path);
    return std::string(std::istreambuf_iterator<char>(f), {});
  }
  fs::path dir_;
};

TEST_F(report_files, out_dir_IsNoLongerTheOutputOnceItsFilesChange) {
  // `run` skips a stage whose output holds the stage's config hash: a
  // report/ whose index.html was deleted, or an export/ without
  // assignments.csv or a cluster folder, was "up to date" and stayed so.
  std::string out = at("ex");
  {
    StagedDir d(out, false);
    touch(d.path() + "/assignments.csv", "row,path\n");
    fs::create_directories(d.path() + "/clusters/cluster_0000");
    fs::create_directories(d.path() + "/clusters/cluster_0001");
    d.commit("h1");
  }
  EXPECT_EQ(whole_output_hash(out), "h1");
  fs::remove(out + "/assignments.csv");
  EXPECT_EQ(whole_output_hash(out), "") << "a deleted file";
  EXPECT_EQ(output_config_hash(out), "h1") << "still distclust's output (replaced without --force)";
  touch(out + "/assignments.csv", "row,path\n");
  EXPECT_EQ(whole_output_hash(out), "h1") << "the same file again";
  fs::remove(out + "/clusters/cluster_0001");
  EXPECT_EQ(whole_output_hash(out), "") << "a deleted cluster folder";
  fs::create_directories(out + "/clusters/cluster_0001");
  touch(out + "/notes.txt", "mine");
  EXPECT_EQ(whole_output_hash(out), "") << "a file added";
  fs::remove(out + "/notes.txt");
  EXPECT_EQ(whole_output_hash(out), "h1");
}

TEST_F(report_files, out_dir_AppearsOnlyOnCommit) {
  std::string out = at("out");
  {
    StagedDir d(out, false);
    touch(d.path() + "/a.txt", "x");
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(d.path(), out + ".tmp");
  }  // no commit: an error on the way leaves nothing behind
  EXPECT_FALSE(fs::exists(out));
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  {
    StagedDir d(out + "/", false);  // a trailing slash names the same folder
    touch(d.path() + "/a.txt", "first");
    d.commit();
  }
  EXPECT_EQ(slurp(out + "/a.txt"), "first");
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

// --force replaces (deletes) what was at OUT: an input there must stop it.
TEST_F(report_files, out_dir_RequireApartRefusesOutputsOverInputs) {
  fs::create_directories(at("imgs/cat"));
  touch(at("imgs/cat/1.png"), "x");
  touch(at("features.h5"), "x");
  fs::create_symlink(at("imgs"), at("link"));
  auto refused = [&](const std::string& out, const std::vector<std::string>& in, const std::string& how) {
    try {
      require_apart(out, in);
      ADD_FAILURE() << out << " accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(" " + how + " the input"), std::string::npos) << e.what();
    }
  };
  refused(at("imgs/cat"), {at("imgs/cat")}, "is");
  refused(at("imgs/cat/"), {at("imgs/cat")}, "is");        // a trailing slash names the same folder
  refused(at("link/cat"), {at("imgs/cat")}, "is");         // through a symlink
  refused(at("imgs"), {at("imgs/cat")}, "contains");
  refused(dir_.string(), {at("features.h5")}, "contains");
  refused(at("imgs/cat/out"), {at("imgs/cat")}, "lies inside");
  refused(at("imgs/cat/../cat/x"), {at("imgs/cat")}, "lies inside");
  refused(at("features.h5"), {"", at("features.h5")}, "is");
  EXPECT_NO_THROW(require_apart(at("out"), {at("imgs/cat"), at("features.h5"), ""}));
  EXPECT_NO_THROW(require_apart(at("imgs/ca"), {at("imgs/cat")}));      // a prefix of the name is not inside
  EXPECT_NO_THROW(require_apart(at("features.h5.d"), {at("features.h5")}));
  EXPECT_NO_THROW(require_apart(at("features.h5/x"), {at("features.h5")}));  // a file holds nothing
  // OUT.tmp that cannot be resolved (here a symlink loop; in a run, another
  // rank renaming it at that moment) was taken as an empty path, which
  // "contained" every input: a run's eval on rank 1 refused its scores.json.
  fs::create_symlink(at("x.tmp"), at("x.tmp"));
  EXPECT_NO_THROW(require_apart(at("x"), {at("features.h5"), at("imgs/cat")}));
}

TEST_F(report_files, out_dir_RefusesExistingUnlessForced) {
  std::string out = at("out");
  fs::create_directories(out);
  touch(out + "/old.txt", "old");
  try {
    StagedDir d(out, false);
    FAIL() << "existing folder accepted without force";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--force"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(fs::exists(out + "/old.txt"));
  fs::create_directories(out + ".tmp/stale");  // left by a killed run: its marker says so
  touch(out + ".tmp/.distclust-staging", "\n");
  StagedDir d(out, true);
  EXPECT_FALSE(fs::exists(out + ".tmp/stale"));
  touch(d.path() + "/new.txt", "new");
  d.commit();
  EXPECT_FALSE(fs::exists(out + "/old.txt"));
  EXPECT_EQ(slurp(out + "/new.txt"), "new");
  EXPECT_FALSE(fs::exists(out + ".tmp"));
  EXPECT_FALSE(fs::exists(out + ".old"));
  EXPECT_FALSE(fs::exists(out + "/.distclust-staging")) << "the staging marker is not part of the output";
  EXPECT_THROW(StagedDir("/", true), Error);
}

// On a file system without RENAME_EXCHANGE the old output is moved aside
// and deleted: that was OUT.old, removed first, so a user's folder of that
// name (an earlier `--out OUT.old`) was deleted with it.
TEST_F(report_files, out_dir_FallbackKeepsAFolderNamedOutOld) {
  const std::string out = at("res");
  fs::create_directories(out);
  touch(out + "/old.txt", "old");
  fs::create_directories(out + ".old");
  touch(out + ".old/mine.txt", "mine");
  setenv("DISTCLUST_TEST_NO_RENAME_EXCHANGE", "1", 1);
  {
    StagedDir d(out, true);
    touch(d.path() + "/new.txt", "new");
    d.commit();
  }
  unsetenv("DISTCLUST_TEST_NO_RENAME_EXCHANGE");
  EXPECT_EQ(slurp(out + "/new.txt"), "new");
  EXPECT_FALSE(fs::exists(out + "/old.txt"));
  EXPECT_EQ(slurp(out + ".old/mine.txt"), "mine") << "the user's OUT.old was deleted";
  EXPECT_FALSE(fs::exists(out + ".old.1")) << "the old output was not deleted";
  EXPECT_FALSE(fs::exists(out + ".tmp"));
}

// OUT.tmp that distclust did not make (a user's folder or file, an input)
// was deleted without a word: it is refused, --force or not, and kept.
TEST_F(report_files, out_dir_NeverDeletesAnOutTmpItDidNotMake) {
  const std::string out = at("myreport");
  fs::create_directories(out + ".tmp");
  touch(out + ".tmp/thesis.tex", "draft");
  for (bool force : {false, true}) {
    try {
      StagedDir d(out, force);
      ADD_FAILURE() << "a user's " << out << ".tmp replaced (force " << force << ")";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("was not made by distclust"), std::string::npos) << e.what();
    }
    EXPECT_EQ(slurp(out + ".tmp/thesis.tex"), "draft");
  }
  touch(at("clusters.tmp"), "an input file");
  EXPECT_THROW(StagedDir(at("clusters"), true), Error);
  EXPECT_EQ(slurp(at("clusters.tmp")), "an input file");
  try {
    require_apart(at("clusters"), {at("features.h5"), at("clusters.tmp")});
    ADD_FAILURE() << "an input at OUT.tmp accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("which would replace the input"), std::string::npos) << e.what();
  }
  // A distclust output folder of that name (a committed copy) is replaceable.
  fs::create_directories(at("done.tmp"));
  touch(at("done.tmp/.config_hash"), "abc\n");
  EXPECT_NO_THROW(StagedDir(at("done"), false));
}

// Writes /fixed (NUL-padded, as extract does) and /vlen (as h5py does) and
// a class_names attribute on the root (JSON) and on /fixed (string array).
void write_strings(const std::string& path, const std::vector<std::string>& v) {
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
  hsize_t n = v.size();
  hid_t sp = H5Screate_simple(1, &n, nullptr);
  size_t len = 1;
  for (const auto& s : v) len = std::max(len, s.size());
  hid_t ft = H5Tcopy(H5T_C_S1);
  H5Tset_size(ft, len);
  H5Tset_strpad(ft, H5T_STR_NULLPAD);
  std::vector<char> buf(n * len, '\0');
  for (size_t i = 0; i < n; ++i) std::copy(v[i].begin(), v[i].end(), buf.begin() + i * len);
  hid_t d1 = H5Dcreate2(f, "/fixed", ft, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d1, ft, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  hid_t vt = H5Tcopy(H5T_C_S1);
  H5Tset_size(vt, H5T_VARIABLE);
  H5Tset_cset(vt, H5T_CSET_UTF8);
  std::vector<const char*> ptr;
  for (const auto& s : v) ptr.push_back(s.c_str());
  hid_t d2 = H5Dcreate2(f, "/vlen", vt, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
  H5Dwrite(d2, vt, H5S_ALL, H5S_ALL, H5P_DEFAULT, ptr.data());
  // Root: one JSON string. /fixed: an array of variable-length strings.
  // (A NUL and a tab: a foreign file's names, which went raw into HTML and CSV.)
  std::string json = "[\"cat\", \"dog \\\"x\\\"\", \"\\u00e9t\\u00e9\", \"a\\u0000b\\tc\"]";
  const char* jp = json.c_str();
  hid_t s1 = H5Screate(H5S_SCALAR);
  hid_t a1 = H5Acreate2(f, "class_names", vt, s1, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a1, vt, &jp);
  hsize_t two = 2;
  hid_t s2 = H5Screate_simple(1, &two, nullptr);
  const char* names[2] = {"zero", "one"};
  hid_t a2 = H5Acreate2(d1, "class_names", vt, s2, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(a2, vt, names);
  for (hid_t a : {a1, a2}) H5Aclose(a);
  for (hid_t s : {s1, s2, sp}) H5Sclose(s);
  H5Dclose(d1);
  H5Dclose(d2);
  H5Tclose(ft);
  H5Tclose(vt);
  H5Fclose(f);
}

TEST_F(report_files, h5_strings_FixedAndVariableLength) {
  std::vector<std::string> v = {"a/b.png", "", "with,comma \"q\".png", "caf\xc3\xa9/x.jpg", "last"};
  write_strings(at("s.h5"), v);
  H5Strings s(at("s.h5"));
  for (const char* ds : {"/fixed", "/vlen"}) {
    EXPECT_TRUE(s.is_strings(ds));
    EXPECT_EQ(s.read_range(ds, {0, 5}), v) << ds;
    EXPECT_EQ(s.read_range(ds, {2, 4}), (std::vector<std::string>{v[2], v[3]})) << ds;
    EXPECT_TRUE(s.read_range(ds, {3, 3}).empty());
    EXPECT_EQ(s.read(ds, {4, 0, 4, 2}), (std::vector<std::string>{v[4], v[0], v[4], v[2]})) << ds;
    EXPECT_THROW(s.read(ds, {5}), Error);
  }
  EXPECT_FALSE(s.is_strings("/nothing"));
  EXPECT_EQ(s.name_list("/", "class_names"),
            (std::vector<std::string>{"cat", "dog \"x\"", "\xc3\xa9t\xc3\xa9", "a\\x00b\\x09c"}));
  EXPECT_EQ(escape_control_chars(std::string("\x7f\n ok\x1f", 6)), "\\x7F\\x0A ok\\x1F");
  EXPECT_EQ(s.name_list("/fixed", "class_names"), (std::vector<std::string>{"zero", "one"}));
  EXPECT_TRUE(s.name_list("/vlen", "class_names").empty());
  EXPECT_TRUE(s.name_list("/absent", "class_names").empty());
}

TEST(report_h5_strings, JsonStringLists) {
  std::vector<std::string> out;
  EXPECT_TRUE(parse_json_string_list("[]", out));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(parse_json_string_list(" [ \"a\" , \"b\\\\c\",\"\\n\" ] ", out));
  EXPECT_EQ(out, (std::vector<std::string>{"a", "b\\c", "\n"}));
  EXPECT_TRUE(parse_json_string_list("[\"\\ud83d\\ude00\"]", out));  // a surrogate pair -> one UTF-8 emoji
  EXPECT_EQ(out, (std::vector<std::string>{"\xf0\x9f\x98\x80"}));
  for (const char* bad : {"", "cat", "[\"a\"", "[\"a\",]", "[1]", "[\"a\"] x", "[\"\\q\"]"})
    EXPECT_FALSE(parse_json_string_list(bad, out)) << bad;
}

// A Latin-1 folder name ("caf\xe9") was written raw into class_names and
// scores.json: invalid UTF-8, which Python's json.loads refuses.
TEST(report_h5_strings, JsonQuoteWritesValidUtf8) {
  EXPECT_EQ(json::quote("caf\xe9"), "\"caf\\ufffd\"");
  EXPECT_EQ(json::quote("\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80"), "\"\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80\"");  // kept
  EXPECT_EQ(json::quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");       // overlong '/'
  EXPECT_EQ(json::quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(json::quote("\xe2\x82"), "\"\\ufffd\\ufffd\"");         // cut short
  EXPECT_EQ(json::quote("a\"b\\\n"), "\"a\\\"b\\\\\\u000a\"");
  // Class names: two Latin-1 folders became one name; now kept apart, readable.
  EXPECT_EQ(json::escape_invalid_utf8("caf\xe9"), "caf\\xE9");
  EXPECT_EQ(json::escape_invalid_utf8("caf\xe8"), "caf\\xE8");
  EXPECT_EQ(json::escape_invalid_utf8("\xc3\xa9t\xc3\xa9 \xe2\x82"), "\xc3\xa9t\xc3\xa9 \\xE2\\x82");
  std::vector<std::string> out;
  ASSERT_TRUE(parse_json_string_list(json::string_list({"caf\xe9", "ok"}), out));
  EXPECT_EQ(out, (std::vector<std::string>{"caf\xef\xbf\xbd", "ok"}));
}

TEST_F(report_files, thumbnails_GoodBadAndMissingImages) {
  cv::Mat big(300, 200, CV_8UC3, cv::Scalar(10, 200, 30)), small(20, 30, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::imwrite(at("big.jpg"), big);
  cv::imwrite(at("small.png"), small);
  touch(at("bad.png"), "not an image at all");
  std::vector<int64_t> rows = {7, 8, 9, 10, 11};
  std::vector<std::string> paths = {at("big.jpg"), at("small.png"), at("bad.png"), at("missing.png"), ""};
  auto t = make_thumbnails(rows, paths, at("rep"), 64);
  ASSERT_EQ(t.size(), 5u);
  EXPECT_TRUE(t[0].ok) << t[0].reason;
  EXPECT_EQ(t[0].file, "thumbs/r000000007.jpg");
  EXPECT_EQ(t[0].height, 64);  // longest side fitted, aspect kept
  EXPECT_EQ(t[0].width, 43);
  cv::Mat back = cv::imread(at("rep/") + t[0].file);
  EXPECT_EQ(back.rows, 64);
  EXPECT_TRUE(t[1].ok);
  EXPECT_EQ(t[1].file, "thumbs/r000000008.png");  // small: kept lossless, not enlarged
  EXPECT_EQ(t[1].width, 30);
  EXPECT_FALSE(t[2].ok);
  EXPECT_FALSE(t[2].reason.empty());
  EXPECT_FALSE(t[3].ok);
  EXPECT_EQ(t[3].reason, "file not found");
  EXPECT_FALSE(t[4].ok);  // no path: nothing tried
  EXPECT_TRUE(t[4].reason.empty());
}

// A thumbnail that cannot be written is the report's failure, with the
// system's reason: it was counted as an unreadable image and shown as a
// placeholder (a full disk gave a report of placeholders).
TEST_F(report_files, thumbnails_AWriteFailureThrowsWithTheCause) {
  cv::Mat small(20, 30, CV_8UC3, cv::Scalar(1, 2, 3));
  cv::imwrite(at("small.png"), small);
  fs::create_directories(at("rep2/thumbs/r000000008.png"));  // the thumbnail's name taken by a folder
  const std::string msg = test::error_of([&] { make_thumbnails({8}, {at("small.png")}, at("rep2"), 64); });
  EXPECT_NE(msg.find("report: writing " + at("rep2") + "/thumbs/r000000008.png failed: Is a directory"), std::string::npos)
      << msg;
}

TEST_F(report_files, clustering_ArrayRowIdsAreNotFiles) {
  touch(at("batch.bin"), "x");
  touch(at("odd:7"), "a file whose name ends like an array id");
  EXPECT_TRUE(is_array_row_id(at("batch.bin") + ":12"));
  EXPECT_FALSE(is_array_row_id(at("batch.bin")));
  EXPECT_FALSE(is_array_row_id(at("missing.h5") + ":3"));
  EXPECT_FALSE(is_array_row_id(at("batch.bin") + ":x1"));
  EXPECT_FALSE(is_array_row_id(at("batch.bin") + ":"));
  EXPECT_FALSE(is_array_row_id(at("odd:7")));
  EXPECT_EQ(resolve_image_path("a/b.png", "/data"), "/data/a/b.png");
  EXPECT_EQ(resolve_image_path("/x/b.png", "/data"), "/x/b.png");
  EXPECT_EQ(resolve_image_path("a/b.png", ""), "a/b.png");
}

TEST(report_html, EscapesEverythingSpecial) {
  EXPECT_EQ(html_escape("<a href=\"x\">Tom & Jerry's</a>"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(num(0.91234567), "0.9123");
  // The page is UTF-8: a Latin-1 name's byte was copied in raw (invalid).
  EXPECT_EQ(html_escape("caf\xe9 <\xc3\xa9t\xc3\xa9>"), "caf\xef\xbf\xbd &lt;\xc3\xa9t\xc3\xa9&gt;");
  // Any file name survives in an href: spaces, #, ?, %, quotes, non-ASCII.
  EXPECT_EQ(url_path_escape("/a b/c#1?%\"\xc3\xa9.png"), "/a%20b/c%231%3F%25%22%C3%A9.png");
  EXPECT_EQ(file_url("/d/x-y_z.~1.png"), "file:///d/x-y_z.~1.png");
  EXPECT_EQ(fixed(0.5, 2), "0.50");
}

TEST(report_svg, NiceTicksAndWellFormedPlots) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(0.1, 0.95, 4), (std::vector<double>{0.25, 0.5, 0.75}));
  // A range below the values' rounding (a flat curve): the step added
  // nothing and the loop ran until bad_alloc (the report of a GMM that
  // converged at once).
  const double y = -1.2149744623;
  EXPECT_EQ(nice_ticks(y, std::nextafter(y, 0.0)), std::vector<double>{y});
  EXPECT_LE(nice_ticks(y, y + 1e-15).size(), 6u);
  std::string s = svg_lines("loss <1>", "epoch", "loss", {{"a", {3, 2, NAN, 1}, true}, {"b", {1}, false}});
  EXPECT_EQ(s.rfind("<svg", 0), 0u);
  EXPECT_NE(s.find("loss &lt;1&gt;"), std::string::npos);
  EXPECT_EQ(s.find("nan"), std::string::npos);
  EXPECT_EQ(s.substr(s.size() - 6), "</svg>");
  // The legend is right of the plot area (the x axis ends before it).
  const size_t legend = s.find("<g class=\"legend\"");
  ASSERT_NE(legend, std::string::npos);
  const double legend_x = std::stod(s.substr(s.find("x=\"", legend) + 3));
  const size_t axis = s.find("stroke=\"#333\"/>");  // the x axis line: x1=left x2=right
  const size_t x2 = s.rfind("x2=\"", axis);
  EXPECT_GT(legend_x, std::stod(s.substr(x2 + 4)));
  std::string b = svg_bars("sizes", "cluster", "rows", {5, 0, 12}, {"0", "1", "2"}, {"#c0", "", "#c2"});
  EXPECT_NE(b.find("href=\"#c2\""), std::string::npos);
  EXPECT_EQ(b.find("nan"), std::string::npos);
}

}  // namespace
}  // namespace distclust::report
