#include "model_loader/tokenizer/jinja_string.h"

#include <algorithm>

#include "model_loader/tokenizer/jinja_builtins.h"

namespace hearth::jinja {
namespace {

// Python's str.isspace() over ASCII: includes the file/group/record/unit separators.
bool IsPySpace(unsigned char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}
bool IsAlpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char Upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }
char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

}  // namespace

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Lower(c);
  return out;
}

std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = Upper(c);
  return out;
}

std::string Strip(std::string_view s, std::string_view chars, bool whitespace, bool left,
                  bool right) {
  if (whitespace) {
    size_t b = 0, e = s.size();
    if (left)
      while (b < e && IsPySpace(s[b])) ++b;
    if (right)
      while (e > b && IsPySpace(s[e - 1])) --e;
    return std::string(s.substr(b, e - b));
  }
  // Strip whole code points that appear in `chars`.
  std::vector<std::string> cps = Utf8Chars(s);
  std::vector<std::string> set = Utf8Chars(chars);
  auto in_set = [&](const std::string& c) {
    return std::find(set.begin(), set.end(), c) != set.end();
  };
  size_t b = 0, e = cps.size();
  if (left)
    while (b < e && in_set(cps[b])) ++b;
  if (right)
    while (e > b && in_set(cps[e - 1])) --e;
  std::string out;
  for (size_t i = b; i < e; ++i) out += cps[i];
  return out;
}

std::vector<std::string> SplitOn(std::string_view s, std::string_view sep, int64_t maxsplit,
                                 bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t start = 0;
    while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
      size_t p = s.find(sep, start);
      if (p == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, p - start));
      start = p + sep.size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  while (maxsplit < 0 || static_cast<int64_t>(parts.size()) < maxsplit) {
    if (end < sep.size()) break;
    size_t p = s.rfind(sep, end - sep.size());
    if (p == std::string_view::npos) break;
    parts.emplace_back(s.substr(p + sep.size(), end - p - sep.size()));
    end = p;
  }
  parts.emplace_back(s.substr(0, end));
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::vector<std::string> SplitWhitespace(std::string_view s, int64_t maxsplit, bool from_right) {
  std::vector<std::string> parts;
  if (!from_right) {
    size_t i = 0;
    while (true) {
      while (i < s.size() && IsPySpace(s[i])) ++i;
      if (i == s.size()) break;
      if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
        parts.emplace_back(s.substr(i));  // the remainder keeps its trailing whitespace
        break;
      }
      size_t j = i;
      while (j < s.size() && !IsPySpace(s[j])) ++j;
      parts.emplace_back(s.substr(i, j - i));
      i = j;
    }
    return parts;
  }
  size_t e = s.size();
  while (true) {
    while (e > 0 && IsPySpace(s[e - 1])) --e;
    if (e == 0) break;
    if (maxsplit >= 0 && static_cast<int64_t>(parts.size()) == maxsplit) {
      parts.emplace_back(s.substr(0, e));  // the remainder keeps its leading whitespace
      break;
    }
    size_t j = e;
    while (j > 0 && !IsPySpace(s[j - 1])) --j;
    parts.emplace_back(s.substr(j, e - j));
    e = j;
  }
  std::reverse(parts.begin(), parts.end());
  return parts;
}

std::string PythonTitle(std::string_view s) {
  std::string out(s);
  bool prev_cased = false;
  for (char& c : out) {
    if (IsAlpha(c)) {
      c = prev_cased ? Lower(c) : Upper(c);
      prev_cased = true;
    } else {
      prev_cased = false;
    }
  }
  return out;
}

std::string JinjaTitle(std::string_view s) {
  auto is_sep = [](char c) {
    return IsPySpace(c) || c == '-' || c == '(' || c == '{' || c == '[' || c == '<';
  };
  std::string out(s);
  bool word_start = true;
  for (char& c : out) {
    if (is_sep(c)) {
      word_start = true;
      continue;
    }
    c = word_start ? Upper(c) : Lower(c);
    word_start = false;
  }
  return out;
}

std::string Capitalize(std::string_view s) {
  std::string out = AsciiLower(s);
  if (!out.empty()) out[0] = Upper(out[0]);
  return out;
}

Result<Value> ReplaceAll(std::string_view s, std::string_view from, std::string_view to,
                         int64_t count) {
  std::string out;
  auto check = [&]() -> Status {
    if (out.size() > kMaxStringBytes) return ResourceExhaustedError("replace(): result too long");
    return Status::Ok();
  };
  int64_t done = 0;
  if (from.empty()) {
    // Python inserts `to` before every character and at the end.
    std::vector<std::string> cps = Utf8Chars(s);
    for (const std::string& c : cps) {
      if (count < 0 || done < count) {
        out += to;
        ++done;
      }
      out += c;
      HEARTH_RETURN_IF_ERROR(check());
    }
    if (count < 0 || done < count) out += to;
    HEARTH_RETURN_IF_ERROR(check());
    return Value::String(std::move(out));
  }
  size_t start = 0;
  while (count < 0 || done < count) {
    size_t p = s.find(from, start);
    if (p == std::string_view::npos) break;
    out.append(s.substr(start, p - start));
    out.append(to);
    HEARTH_RETURN_IF_ERROR(check());
    start = p + from.size();
    ++done;
  }
  out.append(s.substr(start));
  HEARTH_RETURN_IF_ERROR(check());
  return Value::String(std::move(out));
}

}  // namespace hearth::jinja
