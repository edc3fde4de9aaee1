// SPDX-License-Identifier: Apache-2.0
#include "jobs/template.h"

#include <gtest/gtest.h>

#include <cstdio>

#include "core/error.h"
#include "process_test_util.h"

namespace tandem::jobs {
namespace {

using testing::TempDir;

const std::vector<std::string> kSubjectColumn = {"subject"};

TEST(TemplateTest, SubstitutesGnuParallelPlaceholders) {
  std::vector<std::string> row = {"/data/sub-01_bold.nii.gz"};
  auto r = [&](const std::string& t) {
    return Template(t, kSubjectColumn, "t").render(row, 7, 2, false);
  };
  EXPECT_EQ(r("{}"), "/data/sub-01_bold.nii.gz");
  EXPECT_EQ(r("{subject}"), "/data/sub-01_bold.nii.gz");
  EXPECT_EQ(r("{.}"), "/data/sub-01_bold.nii");
  EXPECT_EQ(r("{/}"), "sub-01_bold.nii.gz");
  EXPECT_EQ(r("{//}"), "/data");
  EXPECT_EQ(r("{/.}"), "sub-01_bold.nii");
  EXPECT_EQ(r("{#}-{%}"), "7-2");
  EXPECT_EQ(r("x{}y{}z"), "x/data/sub-01_bold.nii.gzy/data/sub-01_bold.nii.gzz");
}

TEST(TemplateTest, PathFormsMatchGnuParallelOnPlainNames) {
  std::vector<std::string> row = {"a.b.c"};
  EXPECT_EQ(Template("{//}", kSubjectColumn, "t").render(row, 1, 1, false), ".");
  EXPECT_EQ(Template("{.}", kSubjectColumn, "t").render(row, 1, 1, false), "a.b");
  row = {"./q"};
  EXPECT_EQ(Template("{.}", kSubjectColumn, "t").render(row, 1, 1, false), "./q");
}

TEST(TemplateTest, UnknownPlaceholderIsUsageError) {
  EXPECT_THROW(Template("{participant_id}", kSubjectColumn, "t"), UsageError);
  EXPECT_THROW(Template("{..}", kSubjectColumn, "t"), UsageError);
  EXPECT_THROW(CommandTemplate({"echo", "{sex}"}, false, {"participant_id", "age"}), UsageError);
}

TEST(TemplateTest, BracesAroundNonNamesStayLiteral) {
  Template t("awk '{print $1}' {}", kSubjectColumn, "t");
  EXPECT_EQ(t.render({"f"}, 1, 1, false), "awk '{print $1}' f");
}

TEST(TemplateTest, NamedColumnsFromTsv) {
  TempDir dir;
  testing::write_text(dir / "participants.tsv",
                      "participant_id\tage\tsex\nsub-01\t30\tF\n\nsub-02\t41\tM\n");
  auto list = load_subjects(dir / "participants.tsv");
  ASSERT_EQ(list.rows.size(), 2u);
  CommandTemplate c({"run", "{participant_id}", "{age}", "{}"}, false, list.columns);
  EXPECT_EQ(c.argv(list.rows[1], 2, 1),
            (std::vector<std::string>{"run", "sub-02", "41", "sub-02"}));
}

TEST(TemplateTest, TsvWithRaggedRowIsInputError) {
  TempDir dir;
  testing::write_text(dir / "p.tsv", "participant_id\tage\nsub-01\t30\nsub-02\n");
  try {
    load_subjects(dir / "p.tsv");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_EQ(e.item(), "line 3");
  }
}

TEST(TemplateTest, PlainListSkipsCommentsAndBlankLines) {
  TempDir dir;
  testing::write_text(dir / "s.txt", "# subjects\nsub-01\n\n  sub-02  \n#sub-03\n");
  auto list = load_subjects(dir / "s.txt");
  ASSERT_EQ(list.rows.size(), 2u);
  EXPECT_EQ(list.rows[1][0], "sub-02");
  EXPECT_THROW(load_subjects(dir / "missing.txt"), InputError);
}

TEST(TemplateTest, RowsRememberTheirLines) {
  TempDir dir;
  testing::write_text(dir / "s.txt", "# subjects\nsub-01\n\nsub-02\n");
  EXPECT_EQ(load_subjects(dir / "s.txt").lines, (std::vector<std::size_t>{2, 4}));
  testing::write_text(dir / "p.tsv", "participant_id\tage\n\nsub-01\t3\n");
  EXPECT_EQ(load_subjects(dir / "p.tsv").lines, std::vector<std::size_t>{3});
  EXPECT_EQ(subjects_from_args({"a", "b"}).lines, (std::vector<std::size_t>{1, 2}));
}

// The reason a subjects file cannot be used, from load_subjects.
std::string subjects_error(const std::string& path) {
  try {
    load_subjects(path);
  } catch (const InputError& e) {
    return e.reason();
  }
  return "no error";
}

TEST(TemplateTest, UnusableSubjectsFilesSayWhy) {
  TempDir dir;
  EXPECT_EQ(subjects_error(dir.str()), "is a directory, not a subjects file");
  EXPECT_EQ(subjects_error(dir / "missing.txt"),
            "cannot read the subjects file: No such file or directory");
  testing::write_text(dir / "empty.txt", "");
  EXPECT_EQ(subjects_error(dir / "empty.txt"), "has no subjects");
  testing::write_text(dir / "comments.txt", "# none yet\n\n");
  EXPECT_EQ(subjects_error(dir / "comments.txt"), "has no subjects");
  testing::write_text(dir / "header.tsv", "participant_id\tage\n");
  EXPECT_EQ(subjects_error(dir / "header.tsv"), "has no subjects, only the header row");
}

TEST(TemplateTest, AppendsSubjectWhenNoPlaceholder) {
  CommandTemplate c({"echo", "hello"}, false, kSubjectColumn);
  EXPECT_EQ(c.argv({"s1"}, 1, 1), (std::vector<std::string>{"echo", "hello", "s1"}));
}

TEST(TemplateTest, NoShellPassesValuesAsOneArgument) {
  CommandTemplate c({"printf", "%s", "{}"}, false, kSubjectColumn);
  auto argv = c.argv({"a b; rm -rf x"}, 1, 1);
  EXPECT_EQ(argv.back(), "a b; rm -rf x");
  EXPECT_EQ(c.display({"a b; rm -rf x"}, 1, 1), "printf %s 'a b; rm -rf x'");
}

TEST(TemplateTest, ShellQuotingSurvivesARealShell) {
  TempDir dir;
  const std::string nasty = "it's a \"test\" $HOME `id` \\ ; | & * ?\n{}";
  CommandTemplate c({"printf", "%s", "{}", ">", dir / "out"}, true, kSubjectColumn);
  auto argv = c.argv({nasty}, 1, 1);
  ASSERT_EQ(argv.size(), 3u);
  EXPECT_EQ(argv[0], "sh");
  std::string cmd = "sh -c " + shell_quote(argv[2]);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_EQ(testing::read_text(dir / "out"), nasty);
}

TEST(TemplateTest, ShellQuoteLeavesPlainWordsAlone) {
  EXPECT_EQ(shell_quote("sub-01_T1w.nii.gz"), "sub-01_T1w.nii.gz");
  EXPECT_EQ(shell_quote(""), "''");
  EXPECT_EQ(shell_quote("a'b"), "'a'\\''b'");
}

TEST(TemplateTest, EmptyCommandIsUsageError) {
  EXPECT_THROW(CommandTemplate({}, false, kSubjectColumn), UsageError);
}

}  // namespace
}  // namespace tandem::jobs
