#include "model_loader/tokenizer/jinja_lexer.h"

#include <algorithm>
#include <cstdint>

namespace hearth::jinja {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsNameStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsNameChar(char c) { return IsNameStart(c) || IsDigit(c); }

void AppendUtf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

class Lexer {
 public:
  explicit Lexer(std::string source) : src_(std::move(source)) {
    line_starts_.push_back(0);
    for (size_t i = 0; i < src_.size(); ++i) {
      if (src_[i] == '\n') line_starts_.push_back(i + 1);
    }
  }

  Result<std::vector<Token>> Run() {
    size_t pos = 0;
    bool line_starting = true;
    while (pos < src_.size()) {
      size_t tag = FindTag(pos);
      std::string text = src_.substr(pos, tag - pos);
      if (tag == src_.size()) {
        Emit(Token::Type::kText, std::move(text), pos);
        break;
      }
      char kind = src_[tag + 1];  // '{', '%' or '#'
      char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
      if (sign == '-') {
        text.erase(std::find_if_not(text.rbegin(), text.rend(), IsSpace).base(), text.end());
      } else if (sign != '+' && kind != '{') {
        // lstrip_blocks: drop the spaces between the line start and a block or comment tag.
        size_t l_pos = text.rfind('\n');
        l_pos = l_pos == std::string::npos ? 0 : l_pos + 1;
        if ((l_pos > 0 || line_starting) && l_pos < text.size() &&
            std::all_of(text.begin() + l_pos, text.end(), IsSpace)) {
          text.resize(l_pos);
        }
      }
      Emit(Token::Type::kText, std::move(text), pos);
      size_t body = tag + 2 + (sign == '-' || sign == '+');
      size_t end;
      if (kind == '#') {
        size_t close = src_.find("#}", body);
        if (close == std::string::npos) return Error(tag, "unclosed comment '{#'");
        end = close + 2;
        bool strip = close > body && src_[close - 1] == '-';
        bool plus = close > body && src_[close - 1] == '+';
        end = SkipAfterTag(end, strip, !plus);
      } else {
        Emit(kind == '{' ? Token::Type::kVarBegin : Token::Type::kBlockBegin,
             kind == '{' ? "{{" : "{%", tag);
        HEARTH_ASSIGN_OR_RETURN(end, LexTag(body, kind == '{'));
      }
      line_starting = end > 0 && src_[end - 1] == '\n';
      pos = end;
    }
    Emit(Token::Type::kEof, "", src_.size());
    return std::move(tokens_);
  }

 private:
  size_t FindTag(size_t from) const {
    size_t i = from;
    while (true) {
      i = src_.find('{', i);
      if (i == std::string::npos || i + 1 >= src_.size()) return src_.size();
      char c = src_[i + 1];
      if (c == '{' || c == '%' || c == '#') return i;
      ++i;
    }
  }

  // After a tag: '-' strips all following whitespace; trim_blocks drops one newline after a
  // block or comment tag unless it ends in '+'.
  size_t SkipAfterTag(size_t end, bool strip, bool trim_newline) const {
    if (strip) {
      while (end < src_.size() && IsSpace(src_[end])) ++end;
    } else if (trim_newline && end < src_.size() && src_[end] == '\n') {
      ++end;
    }
    return end;
  }

  // Lexes expression tokens until the closing }} or %} at bracket depth zero; returns the
  // offset after the tag and its whitespace control.
  Result<size_t> LexTag(size_t i, bool is_var) {
    std::vector<char> brackets;
    const char close = is_var ? '}' : '%';
    while (true) {
      while (i < src_.size() && IsSpace(src_[i])) ++i;
      if (i >= src_.size()) return Error(i, is_var ? "unclosed '{{'" : "unclosed '{%'");
      if (brackets.empty()) {
        bool signed_end = (src_[i] == '-' || (!is_var && src_[i] == '+')) &&
                          src_.compare(i + 1, 2, std::string{close, '}'}) == 0;
        if (signed_end || src_.compare(i, 2, std::string{close, '}'}) == 0) {
          Emit(is_var ? Token::Type::kVarEnd : Token::Type::kBlockEnd, is_var ? "}}" : "%}", i);
          size_t end = i + (signed_end ? 3 : 2);
          return SkipAfterTag(end, signed_end && src_[i] == '-', !is_var && src_[i] != '+');
        }
      }
      char c = src_[i];
      size_t start = i;
      if (IsNameStart(c)) {
        while (i < src_.size() && IsNameChar(src_[i])) ++i;
        Emit(Token::Type::kName, src_.substr(start, i - start), start);
      } else if (IsDigit(c)) {
        HEARTH_ASSIGN_OR_RETURN(i, LexNumber(i));
      } else if (c == '\'' || c == '"') {
        HEARTH_ASSIGN_OR_RETURN(i, LexString(i));
      } else {
        static const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
        std::string op(1, c);
        for (const char* two : kTwo) {
          if (src_.compare(i, 2, two) == 0) op = two;
        }
        if (op.size() == 1 &&
            std::string_view("+-*/%~<>=()[]{}.,:|").find(c) == std::string_view::npos) {
          return Error(i, std::string("unexpected character '") + c + "'");
        }
        if (c == '(' || c == '[' || c == '{') {
          if (brackets.size() >= 256) return Error(i, "brackets nested too deeply");
          brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
        } else if (c == ')' || c == ']' || c == '}') {
          if (brackets.empty() || brackets.back() != c) {
            return Error(i, std::string("unbalanced '") + c + "'");
          }
          brackets.pop_back();
        }
        Emit(Token::Type::kOp, op, i);
        i += op.size();
      }
    }
  }

  Result<size_t> LexNumber(size_t i) {
    size_t start = i;
    auto digits = [&] {
      while (i < src_.size() && (IsDigit(src_[i]) || src_[i] == '_')) ++i;
    };
    digits();
    bool is_float = false;
    if (i + 1 < src_.size() && src_[i] == '.' && IsDigit(src_[i + 1])) {
      is_float = true;
      ++i;
      digits();
    }
    if (i < src_.size() && (src_[i] == 'e' || src_[i] == 'E')) {
      size_t j = i + 1;
      if (j < src_.size() && (src_[j] == '+' || src_[j] == '-')) ++j;
      if (j < src_.size() && IsDigit(src_[j])) {
        is_float = true;
        i = j;
        digits();
      }
    }
    std::string text;
    for (size_t k = start; k < i; ++k) {
      if (src_[k] != '_') text += src_[k];
    }
    Emit(is_float ? Token::Type::kFloat : Token::Type::kInt, std::move(text), start);
    return i;
  }

  // Python string-literal escapes, as jinja2 decodes them ("unicode-escape").
  Result<size_t> LexString(size_t i) {
    size_t start = i;
    char quote = src_[i++];
    std::string value;
    while (true) {
      if (i >= src_.size()) return Error(start, "unterminated string literal");
      char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) return Error(start, "unterminated string literal");
      char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n':
          value += '\n';
          break;
        case 't':
          value += '\t';
          break;
        case 'r':
          value += '\r';
          break;
        case 'a':
          value += '\a';
          break;
        case 'b':
          value += '\b';
          break;
        case 'f':
          value += '\f';
          break;
        case 'v':
          value += '\v';
          break;
        case '\\':
          value += '\\';
          break;
        case '\'':
          value += '\'';
          break;
        case '"':
          value += '"';
          break;
        case '\n':
          break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int k = 0; k < n; ++k) {
            int h = i + k < src_.size() ? HexValue(src_[i + k]) : -1;
            if (h < 0) return Error(i - 2, std::string("truncated \\") + e + " escape");
            cp = cp * 16 + h;
          }
          if (cp > 0x10FFFF) return Error(i - 2, "escape outside the Unicode range");
          i += n;
          AppendUtf8(cp, value);
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            uint32_t cp = e - '0';
            for (int k = 0; k < 2 && i < src_.size() && src_[i] >= '0' && src_[i] <= '7'; ++k) {
              cp = cp * 8 + (src_[i++] - '0');
            }
            AppendUtf8(cp, value);
          } else {
            value += '\\';
            value += e;
          }
      }
    }
    Emit(Token::Type::kString, std::move(value), start);
    return i + 1;
  }

  SourcePos PosOf(size_t offset) const {
    auto it = std::upper_bound(line_starts_.begin(), line_starts_.end(), offset);
    size_t line = it - line_starts_.begin();
    return {static_cast<int>(line), static_cast<int>(offset - line_starts_[line - 1] + 1)};
  }

  void Emit(Token::Type type, std::string text, size_t offset) {
    if (type == Token::Type::kText && text.empty()) return;
    tokens_.push_back({type, std::move(text), PosOf(offset)});
  }

  Status Error(size_t offset, const std::string& what) const {
    return InvalidArgumentError("chat template syntax error at " + PosOf(offset).ToString() + ": " +
                                what);
  }

  std::string src_;
  std::vector<size_t> line_starts_;
  std::vector<Token> tokens_;
};

}  // namespace

Result<std::vector<Token>> Tokenize(std::string_view source) {
  if (source.size() > kMaxTemplateBytes) {
    return InvalidArgumentError("chat template is " + std::to_string(source.size()) +
                                " bytes; the limit is " + std::to_string(kMaxTemplateBytes));
  }
  // jinja2 normalizes \r\n and \r to \n and drops one trailing newline.
  std::string normalized;
  normalized.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      normalized += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      normalized += source[i];
    }
  }
  if (!normalized.empty() && normalized.back() == '\n') normalized.pop_back();
  return Lexer(std::move(normalized)).Run();
}

}  // namespace hearth::jinja
