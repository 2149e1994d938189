// Reads a whole small file (config.json, tokenizer files, chat templates, a safetensors index)
// into memory. Large binary data (weights) is mapped instead: mapped_file.h.
#pragma once

#include <cstdint>
#include <string>

#include "kernels/core/status.h"

namespace hearth {

// 8x the largest real tokenizer.json (Gemma 3's, ~33 MB): a bigger "text" file is a wrong path
// or a corrupt download, not something to parse.
inline constexpr uint64_t kMaxReadFileBytes = uint64_t{256} << 20;

// The contents of `path` (symlinks followed, as in the Hugging Face cache). Every error names the
// path: NotFound when it does not exist ("<path>: cannot open: No such file or directory");
// InvalidArgument when it cannot be opened (permissions) or is not a regular file (a directory,
// a FIFO); ResourceExhausted when it is larger than `max_bytes`; DataLoss on a read error.
Result<std::string> ReadFile(const std::string& path, uint64_t max_bytes = kMaxReadFileBytes);

}  // namespace hearth
