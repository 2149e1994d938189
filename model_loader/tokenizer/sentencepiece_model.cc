#include "model_loader/tokenizer/sentencepiece_model.h"

#include <cstring>

#include "model_loader/read_file.h"

namespace hearth::tokenizer {
namespace {

// Protobuf wire types.
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

// Field numbers of sentencepiece_model.proto.
constexpr uint32_t kModelPieces = 1, kModelTrainerSpec = 2, kModelNormalizerSpec = 3;
constexpr uint32_t kPiecePiece = 1, kPieceScore = 2, kPieceType = 3;
constexpr uint32_t kTrainerModelType = 3, kTrainerByteFallback = 35, kTrainerUnkId = 40,
                   kTrainerBosId = 41, kTrainerEosId = 42;
constexpr uint32_t kNormalizerName = 1, kNormalizerCharsmap = 2, kNormalizerDummyPrefix = 3,
                   kNormalizerRemoveExtraSpaces = 4, kNormalizerEscapeSpaces = 5;
constexpr int64_t kModelTypeBpe = 2;

class WireReader {
 public:
  WireReader(std::string_view data, const std::string& source, size_t base)
      : data_(data), source_(source), base_(base) {}
  bool done() const { return pos_ >= data_.size(); }

  Result<uint64_t> Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Error("truncated varint");
      const auto b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Error("varint longer than 10 bytes");
  }
  // Reads a tag; *field and *wire receive its parts.
  Status Tag(uint32_t* field, uint32_t* wire) {
    HEARTH_ASSIGN_OR_RETURN(const uint64_t tag, Varint());
    *field = static_cast<uint32_t>(tag >> 3);
    *wire = static_cast<uint32_t>(tag & 7);
    if (*field == 0) return Error("field number 0");
    return Status::Ok();
  }
  Result<std::string_view> Bytes() {
    HEARTH_ASSIGN_OR_RETURN(const uint64_t n, Varint());
    if (n > data_.size() - pos_) return Error("length " + std::to_string(n) + " past the end");
    const std::string_view out = data_.substr(pos_, n);
    pos_ += n;
    return out;
  }
  Result<float> Fixed32Float() {
    if (data_.size() - pos_ < 4) return Error("truncated fixed32");
    float f;
    std::memcpy(&f, data_.data() + pos_, 4);  // little-endian on every target we build for
    pos_ += 4;
    return f;
  }
  Status Skip(uint32_t wire) {
    switch (wire) {
      case kVarint:
        return Varint().status();
      case kFixed64:
        if (data_.size() - pos_ < 8) return Error("truncated fixed64");
        pos_ += 8;
        return Status::Ok();
      case kLengthDelimited:
        return Bytes().status();
      case kFixed32:
        if (data_.size() - pos_ < 4) return Error("truncated fixed32");
        pos_ += 4;
        return Status::Ok();
      default:
        return Error("unsupported wire type " + std::to_string(wire));
    }
  }
  size_t offset() const { return base_ + pos_; }
  Status Error(const std::string& what) const {
    return DataLossError(source_ + ": not a SentencePiece model: " + what + " at byte " +
                         std::to_string(base_ + pos_));
  }

 private:
  std::string_view data_;
  const std::string& source_;
  size_t base_;
  size_t pos_ = 0;
};

Status ExpectWire(const WireReader& r, uint32_t wire, uint32_t expected, const char* field) {
  if (wire == expected) return Status::Ok();
  return r.Error(std::string("field ") + field + " has wire type " + std::to_string(wire));
}

}  // namespace

Result<Tokenizer::Parts> ParseSentencePieceModel(std::string_view bytes,
                                                 const std::string& source) {
  Tokenizer::Parts parts;
  parts.kind = TokenizerKind::kSentencePiece;
  Vocab& v = parts.vocab;
  int64_t model_type = 1;  // proto default: UNIGRAM
  bool byte_fallback = false, escape_spaces = true, remove_extra_spaces = true;
  std::string normalizer_name, charsmap;
  int64_t unk_id = 0, bos_id = 1, eos_id = 2;

  WireReader model(bytes, source, 0);
  while (!model.done()) {
    uint32_t field, wire;
    HEARTH_RETURN_IF_ERROR(model.Tag(&field, &wire));
    if (field != kModelPieces && field != kModelTrainerSpec && field != kModelNormalizerSpec) {
      HEARTH_RETURN_IF_ERROR(model.Skip(wire));
      continue;
    }
    HEARTH_RETURN_IF_ERROR(ExpectWire(model, wire, kLengthDelimited, "ModelProto"));
    HEARTH_ASSIGN_OR_RETURN(const std::string_view body, model.Bytes());
    WireReader sub(body, source, model.offset() - body.size());
    if (field == kModelPieces) {
      std::string piece;
      float score = 0;
      int64_t type = 1;  // NORMAL
      while (!sub.done()) {
        uint32_t f, w;
        HEARTH_RETURN_IF_ERROR(sub.Tag(&f, &w));
        if (f == kPiecePiece) {
          HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kLengthDelimited, "piece"));
          HEARTH_ASSIGN_OR_RETURN(const std::string_view s, sub.Bytes());
          piece = s;
        } else if (f == kPieceScore) {
          HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kFixed32, "score"));
          HEARTH_ASSIGN_OR_RETURN(score, sub.Fixed32Float());
        } else if (f == kPieceType) {
          HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kVarint, "type"));
          HEARTH_ASSIGN_OR_RETURN(const uint64_t t, sub.Varint());
          type = static_cast<int64_t>(t);
        } else {
          HEARTH_RETURN_IF_ERROR(sub.Skip(w));
        }
      }
      // SentencePiece's Type enum uses the same numbers as GGUF's token types.
      HEARTH_ASSIGN_OR_RETURN(const TokenType t, TokenTypeFromInt(type, source, v.tokens.size()));
      v.tokens.push_back(std::move(piece));
      v.scores.push_back(score);
      v.types.push_back(t);
    } else if (field == kModelTrainerSpec) {
      while (!sub.done()) {
        uint32_t f, w;
        HEARTH_RETURN_IF_ERROR(sub.Tag(&f, &w));
        const bool is_int = f == kTrainerModelType || f == kTrainerByteFallback ||
                            f == kTrainerUnkId || f == kTrainerBosId || f == kTrainerEosId;
        if (!is_int) {
          HEARTH_RETURN_IF_ERROR(sub.Skip(w));
          continue;
        }
        HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kVarint, "TrainerSpec"));
        HEARTH_ASSIGN_OR_RETURN(const uint64_t raw, sub.Varint());
        // int32 fields are sign-extended to 64 bits on the wire.
        const auto value = static_cast<int64_t>(raw);
        if (f == kTrainerModelType) model_type = value;
        if (f == kTrainerByteFallback) byte_fallback = value != 0;
        if (f == kTrainerUnkId) unk_id = value;
        if (f == kTrainerBosId) bos_id = value;
        if (f == kTrainerEosId) eos_id = value;
      }
    } else {
      while (!sub.done()) {
        uint32_t f, w;
        HEARTH_RETURN_IF_ERROR(sub.Tag(&f, &w));
        if (f == kNormalizerName || f == kNormalizerCharsmap) {
          HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kLengthDelimited, "NormalizerSpec"));
          HEARTH_ASSIGN_OR_RETURN(const std::string_view s, sub.Bytes());
          (f == kNormalizerName ? normalizer_name : charsmap) = s;
        } else if (f == kNormalizerDummyPrefix || f == kNormalizerRemoveExtraSpaces ||
                   f == kNormalizerEscapeSpaces) {
          HEARTH_RETURN_IF_ERROR(ExpectWire(sub, w, kVarint, "NormalizerSpec"));
          HEARTH_ASSIGN_OR_RETURN(const uint64_t b, sub.Varint());
          if (f == kNormalizerDummyPrefix) parts.add_dummy_prefix = b != 0;
          if (f == kNormalizerRemoveExtraSpaces) remove_extra_spaces = b != 0;
          if (f == kNormalizerEscapeSpaces) escape_spaces = b != 0;
        } else {
          HEARTH_RETURN_IF_ERROR(sub.Skip(w));
        }
      }
    }
  }

  if (v.tokens.empty()) return InvalidArgumentError(source + ": the model has no pieces");
  if (model_type != kModelTypeBpe) {
    return UnimplementedError(source + ": SentencePiece model type " + std::to_string(model_type) +
                              " is not supported (only BPE, type 2; Unigram is not)");
  }
  // Only the identity normalizer (what Llama/Mistral ship) is implemented: NFKC charsmaps and
  // whitespace squeezing would change the text before the merges.
  if (!charsmap.empty() || remove_extra_spaces || !escape_spaces) {
    return UnimplementedError(source + ": normalizer '" + normalizer_name +
                              "' is not supported (needs identity rules, no extra-whitespace "
                              "removal, escaped whitespace)");
  }
  const auto id_or_none = [&](int64_t id) {
    return id >= 0 && id < static_cast<int64_t>(v.tokens.size()) ? static_cast<int32_t>(id) : -1;
  };
  v.unk_id = id_or_none(unk_id);
  v.bos_id = id_or_none(bos_id);
  v.eos_id = id_or_none(eos_id);
  v.add_bos = v.bos_id >= 0;  // the Llama convention; SentencePiece itself adds nothing
  v.add_eos = false;
  parts.byte_fallback = byte_fallback;
  return parts;
}

Result<std::unique_ptr<Tokenizer>> Tokenizer::FromSentencePieceModel(const std::string& path) {
  HEARTH_ASSIGN_OR_RETURN(const std::string bytes, ReadFile(path));
  HEARTH_ASSIGN_OR_RETURN(Parts parts, ParseSentencePieceModel(bytes, path));
  return FromParts(std::move(parts), path);
}

}  // namespace hearth::tokenizer
