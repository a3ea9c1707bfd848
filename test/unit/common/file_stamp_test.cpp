// A file's stamp changes when what a reader would get changes, and only then.
#include "common/file_stamp.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test/support/test_pki.h"

namespace meshprobe {
namespace {

class FileStampTest : public testing::Test {
 protected:
  std::filesystem::path file(const char* name) const { return dir_.path() / name; }
  test::TempDir dir_;
};

TEST_F(FileStampTest, AMissingFileHasTheEmptyStamp) {
  EXPECT_EQ(stamp_of(file("absent").string()), FileStamp{});
}

TEST_F(FileStampTest, AnUnchangedFileKeepsItsStamp) {
  test::write_file(file("token"), "abc");
  EXPECT_NE(stamp_of(file("token").string()), FileStamp{});
  EXPECT_EQ(stamp_of(file("token").string()), stamp_of(file("token").string()));
}

TEST_F(FileStampTest, NewContentOfAnotherSizeChangesTheStamp) {
  test::write_file(file("token"), "abc");
  const FileStamp before = stamp_of(file("token").string());
  test::write_file(file("token"), "abcdef");
  EXPECT_NE(stamp_of(file("token").string()), before);
}

// How a ConfigMap or projected token is updated: the same size, often the
// same second, but a symlink that now points at another file.
TEST_F(FileStampTest, ASwappedSymlinkChangesTheStamp) {
  test::write_file(file("a"), "one");
  test::write_file(file("b"), "two");
  std::filesystem::create_symlink(file("a"), file("link"));
  const FileStamp before = stamp_of(file("link").string());
  std::filesystem::create_symlink(file("b"), file("link.new"));
  std::filesystem::rename(file("link.new"), file("link"));
  EXPECT_NE(stamp_of(file("link").string()), before);
}

}  // namespace
}  // namespace meshprobe
