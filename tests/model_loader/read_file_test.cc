// ReadFile: the one whole-file reader of model_loader (config.json, tokenizer files, chat
// templates, safetensors index). Every failure is a Status naming the path, never a hang.
#include "model_loader/read_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

namespace hearth {
namespace {

namespace fs = std::filesystem;

class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / "hearth_read_file_test";
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string Write(const char* name, const std::string& bytes) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << bytes;
    return p.string();
  }
  fs::path dir_;
};

TEST_F(ReadFileTest, ReadsWholeFileByteExact) {
  const std::string bytes("{\"a\":1}\n\0\xff tail", 15);
  Result<std::string> r = ReadFile(Write("x.json", bytes));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, bytes);
  Result<std::string> empty = ReadFile(Write("empty", ""));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST_F(ReadFileTest, FollowsSymlinksLikeTheHfCache) {
  const std::string target = Write("blob", "template");
  fs::create_symlink(target, dir_ / "chat_template.jinja");
  Result<std::string> r = ReadFile((dir_ / "chat_template.jinja").string());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, "template");
}

TEST_F(ReadFileTest, MissingFileIsNotFoundNamingThePath) {
  const std::string path = (dir_ / "config.json").string();
  Result<std::string> r = ReadFile(path);
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message().rfind(path + ": cannot open", 0), 0u) << r.status().message();
}

TEST_F(ReadFileTest, DirectoryAndFifoAreNotRegularFiles) {
  fs::create_directories(dir_ / "tokenizer.json");
  Result<std::string> d = ReadFile((dir_ / "tokenizer.json").string());
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(d.status().message().find("not a regular file"), std::string::npos);
  // Opening a FIFO without a writer must not block.
  const std::string fifo = (dir_ / "fifo").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<std::string> f = ReadFile(fifo);
  EXPECT_EQ(f.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(f.status().message().find("not a regular file"), std::string::npos);
}

TEST_F(ReadFileTest, LargerThanLimitIsResourceExhausted) {
  const std::string path = Write("big", std::string(101, 'x'));
  EXPECT_TRUE(ReadFile(path, 101).ok());
  Result<std::string> r = ReadFile(path, 100);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("101 bytes"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace hearth
