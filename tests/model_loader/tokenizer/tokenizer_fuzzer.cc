// libFuzzer target for the tokenizer's untrusted inputs: the first byte picks a mode,
//   0: the rest is a tokenizer.model (protobuf) to parse, load and run;
//   1: the rest is text for Llama 2's SentencePiece tokenizer and a small byte-level one;
//   2: the rest is little-endian int32 ids to decode and stream-decode;
//   3: the rest is a tokenizer.json (byte-level or SentencePiece-style) to load and run.
// Invariants: no crash, stream decode == decode, decodes are valid UTF-8.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "model_loader/tokenizer/sentencepiece_model.h"
#include "model_loader/tokenizer/tokenizer.h"
#include "model_loader/tokenizer/utf8.h"

namespace {

using hearth::tokenizer::StreamDecoder;
using hearth::tokenizer::Tokenizer;

const Tokenizer* Llama2() {
  static const std::unique_ptr<Tokenizer> tok = [] {
    const char* dir = std::getenv("HEARTH_TEST_DATA");
    const std::string path =
        std::string(dir ? dir : "tests/data") + "/llama2-tokenizer/tokenizer.model";
    auto t = Tokenizer::FromSentencePieceModel(path);
    if (!t.ok()) std::abort();  // the fuzzer's own setup, not an input
    return std::move(t).value();
  }();
  return tok.get();
}

void Check(const Tokenizer& tok, const std::vector<int32_t>& ids) {
  const std::string full = tok.Decode(ids, false);
  if (!hearth::tokenizer::IsValidUtf8(full)) std::abort();
  StreamDecoder stream(tok, false);
  std::string streamed;
  for (const int32_t id : ids) streamed += stream.Push(id);
  if (streamed + stream.Flush() != full) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto parts = hearth::tokenizer::ParseSentencePieceModel(rest, "fuzz.model");
      if (!parts.ok()) return 0;
      auto tok = Tokenizer::FromParts(std::move(parts).value(), "fuzz.model");
      if (!tok.ok()) return 0;
      Check(**tok, (*tok)->Encode("Hello world \xF0\x9F\xA6\x99", true, true));
      return 0;
    }
    case 1: {
      const Tokenizer& tok = *Llama2();
      for (const bool special : {false, true}) Check(tok, tok.Encode(rest, special, special));
      return 0;
    }
    case 3: {
      auto tok = Tokenizer::FromHfJson(rest, "", "fuzz.json");
      if (!tok.ok()) return 0;
      for (const bool special : {false, true}) {
        Check(**tok, (*tok)->Encode("Hello  world\n\xF0\x9F\xA6\x99 <s>\xFF", special, special));
      }
      return 0;
    }
    default: {
      std::vector<int32_t> ids(rest.size() / 4);
      // memcpy's pointers must be non-null even for 0 bytes (an empty vector's data() may be).
      if (!ids.empty()) std::memcpy(ids.data(), rest.data(), ids.size() * 4);
      for (int32_t& id : ids) id = static_cast<int32_t>(static_cast<uint32_t>(id) % 33000);
      Check(*Llama2(), ids);
      return 0;
    }
  }
}
