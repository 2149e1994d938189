// A SentencePiece tokenizer.model (a serialized ModelProto) read with a minimal protobuf
// wire-format reader: no libprotobuf, so Hearth never loads a second protobuf copy next to
// gRPC's (see README.md). Only the fields the BPE encoder needs are read; the rest are skipped.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/core/status.h"
#include "model_loader/tokenizer/tokenizer.h"

namespace hearth::tokenizer {

// Parses a ModelProto held in `bytes`; `source` names the file in errors.
Result<Tokenizer::Parts> ParseSentencePieceModel(std::string_view bytes, const std::string& source);

}  // namespace hearth::tokenizer
