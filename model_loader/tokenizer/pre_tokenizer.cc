#include "model_loader/tokenizer/pre_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "kernels/core/check.h"
#include "model_loader/tokenizer/byte_bpe_model.h"
#include "model_loader/tokenizer/utf8.h"

namespace hearth::tokenizer {

const char* const kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";

namespace {

// Llama 3 and Qwen2 differ only in how many digits one piece may hold.
std::string Llama3StylePattern(const char* digits) {
  return std::string(R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|)") + digits +
         R"(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
}

// DeepSeek's letter and CJK classes, spelled as code point ranges (from the published
// deepseek-llm tokenizer configuration).
const char* const kDeepSeekLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D})"
    R"(\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4})"
    R"(\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4})"
    R"(\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124})"
    R"(\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F})"
    R"(\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4})"
    R"(\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F})"
    R"(\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17})"
    R"(\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3})"
    R"(\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF})"
    R"(\x{1E900}-\x{1E943}]+)";
const char* const kDeepSeekCjk = R"([\x{4E00}-\x{9FA5}\x{0800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

struct MatchScratch {
  pcre2_match_data* data = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_jit_stack* jit_stack = nullptr;
  MatchScratch() {
    data = pcre2_match_data_create(1, nullptr);
    context = pcre2_match_context_create(nullptr);
    // Lookahead after long whitespace runs needs more than the 32 KiB default JIT stack.
    jit_stack = pcre2_jit_stack_create(32 * 1024, 16 * 1024 * 1024, nullptr);
    pcre2_jit_stack_assign(context, nullptr, jit_stack);
  }
  ~MatchScratch() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(jit_stack);
  }
};

MatchScratch& Scratch() {
  thread_local MatchScratch scratch;
  return scratch;
}

size_t Utf8CharLen(unsigned char c) { return c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4; }

}  // namespace

struct PreTokenizer::Compiled {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Result<PreTokenizerConfig> PreTokenizer::ForGgufName(std::string_view pre, bool* ignore_merges) {
  *ignore_merges = false;
  const std::string digit_then_gpt2[] = {R"(\p{N})", kGpt2Pattern};
  if (pre == "gpt-2" || pre == "mpt" || pre == "olmo" || pre == "jais" || pre == "default" ||
      pre.empty()) {
    return PreTokenizerConfig{{kGpt2Pattern}};
  }
  if (pre == "llama-bpe" || pre == "llama3" || pre == "dbrx" || pre == "smaug-bpe") {
    *ignore_merges = (pre == "llama-bpe" || pre == "llama3");
    return PreTokenizerConfig{{Llama3StylePattern(R"(\p{N}{1,3})")}};
  }
  if (pre == "qwen2" || pre == "deepseek-r1-qwen") {
    return PreTokenizerConfig{{Llama3StylePattern(R"(\p{N})")}};
  }
  if (pre == "starcoder" || pre == "refact" || pre == "smollm" || pre == "command-r" ||
      pre == "codeshell" || pre == "exaone" || pre == "minerva-7b") {
    return PreTokenizerConfig{{std::begin(digit_then_gpt2), std::end(digit_then_gpt2)}};
  }
  if (pre == "falcon") {
    // HF: Punctuation(contiguous), ByteLevel regex, Digits, then isolated groups of 3 digits.
    return PreTokenizerConfig{
        {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2Pattern, R"(\p{N}+)", "[0-9][0-9][0-9]"},
        /*byte_mapped_from=*/2};
  }
  if (pre == "deepseek-llm") {
    return PreTokenizerConfig{{"[\\r\\n]", kDeepSeekLetters,
                               R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E})"
                               R"(\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
                               R"(\s+$)", kDeepSeekCjk, R"(\p{N}+)"}};
  }
  if (pre == "deepseek-coder") {
    return PreTokenizerConfig{
        {"[\\r\\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepSeekCjk, R"(\p{N})"}};
  }
  return UnimplementedError(
      "tokenizer.ggml.pre '" + std::string(pre) +
      "' is not supported (supported: gpt-2, mpt, olmo, jais, default, llama-bpe, llama3, dbrx, "
      "smaug-bpe, qwen2, deepseek-r1-qwen, starcoder, refact, smollm, command-r, codeshell, "
      "exaone, minerva-7b, falcon, deepseek-llm, deepseek-coder)");
}

Result<std::unique_ptr<PreTokenizer>> PreTokenizer::Create(const PreTokenizerConfig& config) {
  std::unique_ptr<PreTokenizer> pre(new PreTokenizer());
  pre->config_ = config;
  for (const std::string& pattern : config.patterns) {
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                     PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (code == nullptr) {
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(error_code, message, sizeof(message));
      return InvalidArgumentError("pre-tokenizer regex '" + pattern + "' does not compile at " +
                                  std::to_string(error_offset) + ": " +
                                  reinterpret_cast<const char*>(message));
    }
    auto* compiled = new Compiled{code, pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0};
    pre->compiled_.push_back(compiled);
  }
  return pre;
}

PreTokenizer::~PreTokenizer() {
  for (Compiled* c : compiled_) {
    pcre2_code_free(c->code);
    delete c;
  }
}

namespace {

// Calls emit(start, end) for each isolated piece of `subject`: the matches of `code` and the
// gaps between them.
template <class Emit>
void SplitIsolated(const pcre2_code* code, bool jit, std::string_view subject, Emit emit) {
  MatchScratch& scratch = Scratch();
  const auto* data = reinterpret_cast<PCRE2_SPTR>(subject.data());
  size_t pos = 0, gap_start = 0;
  while (pos < subject.size()) {
    int rc = pcre2_match(code, data, subject.size(), pos, PCRE2_NO_UTF_CHECK, scratch.data,
                         scratch.context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && jit) {
      // JIT ran out of stack on a pathological input: the interpreter uses the heap.
      rc = pcre2_match(code, data, subject.size(), pos, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       scratch.data, nullptr);
    }
    if (rc == PCRE2_ERROR_NOMATCH) break;
    size_t start, end;
    if (rc < 0) {
      // Still failing (a resource limit): isolate one code point and go on, never abort.
      start = pos;
      end = pos + Utf8CharLen(static_cast<unsigned char>(subject[pos]));
    } else {
      const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(scratch.data);
      start = ovector[0];
      end = ovector[1];
    }
    if (end == start) {  // an empty match splits nothing; step over one code point
      if (start >= subject.size()) break;
      pos = start + Utf8CharLen(static_cast<unsigned char>(subject[start]));
      continue;
    }
    if (start > gap_start) emit(gap_start, start);
    emit(start, end);
    pos = gap_start = end;
  }
  if (gap_start < subject.size()) emit(gap_start, subject.size());
}

}  // namespace

void PreTokenizer::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  const size_t first = pieces->size();
  if (!text.empty()) pieces->push_back(text);
  std::vector<std::string_view> next;
  std::string mapped;
  std::vector<uint32_t> mapped_to_raw;  // byte offset in `mapped` -> byte offset in the piece
  for (size_t step = 0; step < compiled_.size(); ++step) {
    const Compiled* c = compiled_[step];
    const bool on_mapped = step >= config_.byte_mapped_from;
    next.clear();
    for (size_t p = first; p < pieces->size(); ++p) {
      const std::string_view piece = (*pieces)[p];
      if (!on_mapped) {
        SplitIsolated(c->code, c->jit, piece, [&](size_t start, size_t end) {
          next.push_back(piece.substr(start, end - start));
        });
        continue;
      }
      // Each byte becomes one code point of GPT-2's byte alphabet; split that, map back.
      mapped.clear();
      mapped_to_raw.clear();
      for (size_t i = 0; i < piece.size(); ++i) {
        const size_t before = mapped.size();
        AppendUtf8(ByteToUnicode(static_cast<uint8_t>(piece[i])), &mapped);
        mapped_to_raw.insert(mapped_to_raw.end(), mapped.size() - before, static_cast<uint32_t>(i));
      }
      mapped_to_raw.push_back(static_cast<uint32_t>(piece.size()));
      SplitIsolated(c->code, c->jit, mapped, [&](size_t start, size_t end) {
        const size_t raw_start = mapped_to_raw[start], raw_end = mapped_to_raw[end];
        next.push_back(piece.substr(raw_start, raw_end - raw_start));
      });
    }
    pieces->resize(first);
    pieces->insert(pieces->end(), next.begin(), next.end());
  }
}

}  // namespace hearth::tokenizer
