// What identifies a file's content cheaply, to re-read it only when it
// changed: a ConfigMap or Secret update swaps a symlink, which changes the
// inode; an editor changes the modification time and the size.
#pragma once

#include <cstdint>
#include <string>

namespace meshprobe {

struct FileStamp {
  std::uint64_t device = 0;
  std::uint64_t inode = 0;
  std::int64_t size = -1;
  std::int64_t mtime_ns = 0;
  bool operator==(const FileStamp&) const = default;
};

// The stamp of the file `path` names now (symlinks followed); a default
// FileStamp when it cannot be read.
FileStamp stamp_of(const std::string& path);

}  // namespace meshprobe
