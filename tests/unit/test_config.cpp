#include <gtest/gtest.h>

#include <chrono>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "common/test_common.h"
#include "distclust/config.h"
#include "kmeans/kmeans.h"

using namespace distclust;
using test::error_of;

namespace {
std::string write_yaml(const std::string& text) {
  std::string path = testing::TempDir() + "/cfg-" + std::to_string(std::hash<std::string>{}(text)) + ".yaml";
  std::ofstream(path) << text;
  return path;
}
}  // namespace

TEST(Config, YamlThenOverridesWithPrecedence) {
  Config c = Config::load(write_yaml("kmeans:\n  k: 7\n  spherical: true\n  init: random\n"));
  c.add_override("kmeans.k=12", "kmeans");
  c.add_override("tol=0.5", "kmeans");
  KMeansParams p;
  c.apply("kmeans", p);
  EXPECT_EQ(p.k, 12);
  EXPECT_TRUE(p.spherical);
  EXPECT_EQ(p.init, "random");
  EXPECT_DOUBLE_EQ(p.tol, 0.5);
  EXPECT_EQ(p.iters, KMeansParams{}.iters);  // untouched default
}

TEST(Config, UnknownKeyIsNamed) {
  Config c = Config::load(write_yaml("kmeans:\n  kk: 7\n"));
  KMeansParams p;
  std::string e = error_of([&] { c.apply("kmeans", p); });
  EXPECT_NE(e.find("unknown key 'kk'"), std::string::npos) << e;
  EXPECT_NE(e.find("valid keys: features, out, k"), std::string::npos) << e;
  Config c2;
  c2.add_override("kmeans.nope=1", "kmeans");
  e = error_of([&] { c2.apply("kmeans", p); });
  EXPECT_NE(e.find("unknown key 'nope'"), std::string::npos) << e;
}

TEST(Config, SecondDocumentAndComplexKeysAreRefused) {
  // kmeans.k: 9 after --- was read by no one, and k=7 ran.
  const std::string e = error_of([] { Config::load(write_yaml("kmeans:\n  k: 7\n---\nkmeans:\n  k: 9\n")); });
  EXPECT_NE(e.find("holds 2 YAML documents (separated by ---)"), std::string::npos) << e;
  EXPECT_NO_THROW(Config::load(write_yaml("---\nkmeans:\n  k: 7\n")));  // one document, marked
  EXPECT_NO_THROW(Config::load(write_yaml("")));                           // none: every default
  EXPECT_NO_THROW(Config::load(write_yaml("kmeans:\n  k: 7\n---\n")));   // a trailing --- holds nothing
  const std::string k = error_of([] { Config::load(write_yaml("? [a]\n: 1\n")); });
  EXPECT_NE(k.find(": line 1: a key under '(top)' is a list or mapping, not a name"), std::string::npos) << k;
}

TEST(Config, AliasBombsAndDeepNestingAreRefusedAtOnce) {
  // Nine levels of nine-fold aliases: 400 bytes, 9^9 values once expanded.
  // The duplicate-key walk expanded them all (minutes; a job held at start).
  std::string bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x]\n";
  for (int l = 1; l <= 9; ++l) {
    bomb += "l" + std::to_string(l) + ": &l" + std::to_string(l) + " [";
    for (int j = 0; j < 9; ++j) bomb += std::string(j ? ", " : "") + "*l" + std::to_string(l - 1);
    bomb += "]\n";
  }
  const auto t0 = std::chrono::steady_clock::now();
  const std::string e = error_of([&] { Config::load(write_yaml(bomb)); });
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 30.0);
  EXPECT_NE(e.find("YAML values (counting each use of an alias, *name, in full)"), std::string::npos) << e;
  // 100 nested lists under kmeans.k: named as nesting, not a type error.
  const std::string deep = "kmeans:\n  k: " + std::string(100, '[') + "1" + std::string(100, ']') + "\n";
  const std::string d = error_of([&] { Config::load(write_yaml(deep)); });
  EXPECT_NE(d.find("nested more than 64 levels deep under 'kmeans.k.'"), std::string::npos) << d;
  // Aliases a config may use are fine.
  EXPECT_NO_THROW(Config::load(write_yaml("kmeans: &km\n  k: 7\ngmm: {k: 7}\n")));
}

TEST(Config, UnknownSectionIsNamed) {
  Config c = Config::load(write_yaml("kmaens:\n  k: 7\n"));
  std::string e = error_of([&] { c.check_sections({"kmeans", "runtime"}); });
  EXPECT_NE(e.find("unknown section 'kmaens'"), std::string::npos) << e;
}

TEST(Config, BadValuesNameKeyAndValue) {
  KMeansParams p;
  std::string e = error_of([&] { set_field(p, "kmeans", "k", "ten"); });
  EXPECT_NE(e.find("kmeans.k: 'ten' is not an integer"), std::string::npos) << e;
  e = error_of([&] { set_field(p, "kmeans", "spherical", "maybe"); });
  EXPECT_NE(e.find("kmeans.spherical: 'maybe' is not a boolean"), std::string::npos) << e;
  EXPECT_TRUE(set_field(p, "kmeans", "k", "1e3"));
  EXPECT_EQ(p.k, 1000);
  // strtod's hexadecimal ran "0x10" as k = 16; no setting documents it.
  for (const char* t : {"0x10", "0X10", "0x1p4", "-0x2"}) {
    e = error_of([&] { set_field(p, "kmeans", "k", t); });
    EXPECT_NE(e.find(fmt("kmeans.k: '", t, "' is not a decimal integer")), std::string::npos) << e;
    double d = 0;
    e = error_of([&] { parse_value("scan.lr", t, d); });
    EXPECT_NE(e.find(fmt("scan.lr: '", t, "' is not a number")), std::string::npos) << e;
  }
}

TEST(Config, NonFiniteNumbersAreRefusedByName) {
  // An inf learning rate once trained to all-NaN probabilities and exited 0;
  // 1e999 reads as inf; a float setting past float's range becomes inf.
  double d = 0;
  float f = 0;
  for (const char* t : {"inf", "-inf", "nan", "1e999", "-1e999"})
    EXPECT_NE(error_of([&] { parse_value("scan.lr", t, d); }).find(fmt("scan.lr: '", t, "' is not a finite number")),
              std::string::npos)
        << t;
  EXPECT_NE(error_of([&] { parse_value("x.f", "1e39", f); }).find("x.f: 1e39 is out of range for a 32-bit float"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_value("x.f", "1e-300", f); }).find("x.f: 1e-300 rounds to 0 as a 32-bit float"),
            std::string::npos);
  parse_value("x.f", "1e-40", f);  // a float32 subnormal: kept
  EXPECT_GT(f, 0.f);
  parse_value("x.f", "3e38", f);
  EXPECT_FLOAT_EQ(f, 3e38f);
  parse_value("scan.lr", "1e300", d);
  EXPECT_EQ(d, 1e300);
}

// Flag values were expanded a second time after the shell ('o/km$x.h5'
// written to o/kmzzz.h5) and trimmed (' g.h5' written to g.h5); config
// files and --set keep expanding and trimming, as documented.
TEST(Config, FlagTextIsTakenAsGiven) {
  setenv("DC_TEST_X", "zzz", 1);
  std::string out;
  parse_value("kmeans.out", "o/km$DC_TEST_X.h5", out, TextSource::flag);
  EXPECT_EQ(out, "o/km$DC_TEST_X.h5");
  parse_value("extract.source", " g.h5\t", out, TextSource::flag);
  EXPECT_EQ(out, " g.h5\t");
  parse_value("report.title", "Prices in $USD_NOT_SET", out, TextSource::flag);
  EXPECT_EQ(out, "Prices in $USD_NOT_SET");
  parse_value("kmeans.out", "  ", out, TextSource::flag);
  EXPECT_EQ(out, "");  // blank: no output given, as before
  parse_value("kmeans.out", "~/k.h5", out, TextSource::flag);
  EXPECT_EQ(out, std::string(getenv("HOME")) + "/k.h5");  // --out=~/k.h5 reaches us unexpanded
  parse_value("kmeans.out", " o/km$DC_TEST_X.h5 ", out, TextSource::config);
  EXPECT_EQ(out, "o/kmzzz.h5");
  unsetenv("DC_TEST_X");
}

// Stored settings (an output's params, config.resolved.yaml) are read back
// through the same expansion: a literal $ was written bare and expanded
// again (assign of a run whose model path held a $ failed; a reused
// config.resolved.yaml wrote elsewhere).
TEST(Config, StoredTextReadsBackAsItself) {
  EXPECT_EQ(yaml_text(std::string("m$v/a\"b")), "\"m$$v/a\\\"b\"");
  KMeansParams p;
  p.out = "r$HOME/$x/k.h5";
  ResolvedConfig rc;
  rc.add("kmeans", p);
  KMeansParams q;
  Config::parse(rc.yaml(), "stored").apply("kmeans", q);
  EXPECT_EQ(q.out, p.out);
}

TEST(Config, MissingFileAndBadYamlAreClear) {
  std::string e = error_of([] { Config::load("/nonexistent/x.yaml"); });
  EXPECT_NE(e.find("/nonexistent/x.yaml does not exist"), std::string::npos) << e;
  std::string bad = write_yaml("kmeans:\n  k: [1, 2\n");
  e = error_of([&] { Config::load(bad); });
  EXPECT_NE(e.find("YAML error at line"), std::string::npos) << e;
  e = error_of([] { Config c; c.add_override("novalue", "kmeans"); });
  EXPECT_NE(e.find("expected section.key=value"), std::string::npos) << e;
}

TEST(Config, ResolvedYamlAndHashFollowValues) {
  KMeansParams a, b;
  b.k = 11;
  ResolvedConfig rb;
  rb.add("kmeans", b);
  EXPECT_EQ(config_hash(a, {}, ""), config_hash(KMeansParams{}, {}, ""));
  EXPECT_NE(config_hash(a, {}, ""), config_hash(b, {}, ""));
  // Fields left out of the hash do not change it; the inputs' identity does.
  KMeansParams moved = a;
  moved.out = "elsewhere.h5";
  EXPECT_EQ(config_hash(a, {"out"}, "x"), config_hash(moved, {"out"}, "x"));
  EXPECT_NE(config_hash(a, {"out"}, "x"), config_hash(moved, {}, "x"));
  EXPECT_NE(config_hash(a, {"out"}, "x"), config_hash(a, {"out"}, "y"));
  EXPECT_NE(rb.yaml().find("  k: 11\n"), std::string::npos);
  // The dump reads back to the same values.
  Config c = Config::load(write_yaml(rb.yaml()));
  KMeansParams back;
  c.apply("kmeans", back);
  EXPECT_EQ(back.k, 11);
  EXPECT_EQ(back.init, "kmeans++");
}

TEST(Config, ResolvedYamlReadsBackAnyText) {
  // A path starting with '[' was written unquoted (as if a float list), and
  // quotes and backslashes unescaped: assign --run and extract --pca-from
  // then failed to read a run's params ("[2024] photos" is a common name).
  for (const std::string& path : {std::string("[2024] photos/features.h5"), std::string("-x"), std::string("null"),
                                  std::string("a: b # c"), std::string("say \"hi\" \\ back"),
                                  std::string("tab\there"), std::string(""), std::string("? ,x")}) {
    KMeansParams a;
    a.features = path, a.out = path;
    ResolvedConfig r;
    r.add("kmeans", a);
    KMeansParams back;
    Config::parse(r.yaml(), "resolved").apply("kmeans", back);
    EXPECT_EQ(back.features, path) << r.yaml();
    EXPECT_EQ(back.out, path);
  }
}

TEST(Config, ValidateNamesBadValue) {
  KMeansParams p;
  p.k = 0;
  std::string e = error_of([&] { p.validate(); });
  EXPECT_NE(e.find("kmeans.k: 0 must be >= 1"), std::string::npos) << e;
  p.k = 3;
  p.init = "kmeans+";
  e = error_of([&] { p.validate(); });
  EXPECT_NE(e.find("'kmeans+'"), std::string::npos) << e;
}

// Numbers print as the shortest text that reads back exactly: --help, the
// config template and saved configs show 0.99, not 0.98999999999999999.
TEST(Config, NumbersPrintShortestExactText) {
  EXPECT_EQ(to_text(0.99), "0.99");
  EXPECT_EQ(to_text(1e-4), "0.0001");
  EXPECT_EQ(to_text(5.0), "5");
  EXPECT_EQ(to_text(10.0), "10");  // not 1e+01
  EXPECT_EQ(to_text(268435456.0), "268435456");
  EXPECT_EQ(to_text(1024.f), "1024");
  EXPECT_EQ(to_text(0.1f), "0.1");
  EXPECT_EQ(to_text(1.0 / 3.0), "0.3333333333333333");  // 16 digits suffice here
  uint64_t x = 88172645463325252ull;
  for (int i = 0; i < 2000; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    double d;
    std::memcpy(&d, &x, sizeof(d));
    if (!std::isfinite(d)) continue;
    ASSERT_EQ(std::strtod(to_text(d).c_str(), nullptr), d) << to_text(d);
    const float f = float(double(x >> 11) * 0x1p-53 * 1e6);
    ASSERT_EQ(std::strtof(to_text(f).c_str(), nullptr), f) << to_text(f);
  }
}

TEST(Config, PathsExpandHomeAndVariablesAndNameAnUnsetOne) {
  // configs/imagenet.yaml says /lustre/$USER/...: that must not become a
  // folder named "$USER".
  const char* home = std::getenv("HOME");
  const std::string saved = home ? home : "";
  ::setenv("DC_TEST_USER", "alice", 1);
  ::setenv("HOME", "/home/alice", 1);
  ::unsetenv("DC_TEST_UNSET");
  EXPECT_EQ(expand_env("w", "/lustre/$DC_TEST_USER/run"), "/lustre/alice/run");
  EXPECT_EQ(expand_env("w", "/x/${DC_TEST_USER}_1/y"), "/x/alice_1/y");
  EXPECT_EQ(expand_env("w", "~/data"), "/home/alice/data");
  EXPECT_EQ(expand_env("w", "~"), "/home/alice");
  EXPECT_EQ(expand_env("w", "a~b/~c"), "a~b/~c");  // only a leading ~ is home
  EXPECT_EQ(expand_env("w", "cost$$5 and $ alone and 5$"), "cost$5 and $ alone and 5$");
  EXPECT_EQ(expand_env("w", "cosine"), "cosine");
  const std::string e = error_of([] { expand_env("run.workdir", "/scratch/$DC_TEST_UNSET/w"); });
  EXPECT_NE(e.find("run.workdir"), std::string::npos) << e;
  EXPECT_NE(e.find("$DC_TEST_UNSET, which is not set"), std::string::npos) << e;
  EXPECT_NE(error_of([] { expand_env("w", "${DC_TEST_USER"); }).find("unterminated"), std::string::npos);
  // Through a YAML file and --set, as a user writes them.
  Config c = Config::load(write_yaml("kmeans:\n  features: $DC_TEST_USER/f.h5\n"));
  c.add_override("kmeans.out=~/km.h5", "kmeans");
  KMeansParams p;
  c.apply("kmeans", p);
  EXPECT_EQ(p.features, "alice/f.h5");
  EXPECT_EQ(p.out, "/home/alice/km.h5");
  if (home) ::setenv("HOME", saved.c_str(), 1);
}

TEST(Config, KeysOfEverySectionAreChecked) {
  // A typo in a section the command does not read was silently ignored.
  Config c = Config::parse("kmeans:\n  k: 3\nscan:\n  clustrs: 5\n", "typo.yaml");
  KMeansParams km;
  EXPECT_NO_THROW(c.check_keys("kmeans", field_names(km)));
  std::string e = error_of([&] { c.check_keys("scan", {"clusters", "heads"}); });
  EXPECT_NE(e.find("typo.yaml: unknown key 'clustrs' in section 'scan' (valid keys: clusters, heads)"), std::string::npos)
      << e;
  c.add_override("scan.hedas=2", "kmeans");
  e = error_of([&] { c.check_keys("scan", {"clusters", "heads", "clustrs"}); });
  // Named as --set's, not the file's (typo.yaml does not hold it).
  EXPECT_NE(e.find("--set scan.hedas: unknown key 'hedas' in section 'scan'"), std::string::npos) << e;
  EXPECT_EQ(e.find("typo.yaml"), std::string::npos) << e;
  // The same through apply (the section a command reads).
  Config k = Config::parse("kmeans:\n  k: 3\n", "ok.yaml");
  k.add_override("kmeans.bogus=1", "kmeans");
  e = error_of([&] { k.apply("kmeans", km); });
  EXPECT_NE(e.find("--set kmeans.bogus: unknown key 'bogus' in section 'kmeans'"), std::string::npos) << e;
  EXPECT_EQ(e.find("ok.yaml"), std::string::npos) << e;
}
