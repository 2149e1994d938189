// jinja2's filters (the subset chat templates use), with Hugging Face's tojson:
// json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=sort_keys), no HTML escaping.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "model_loader/tokenizer/jinja_builtins.h"
#include "model_loader/tokenizer/jinja_string.h"

namespace hearth::jinja {
namespace {

Status CheckSize(const std::string& s, const std::string& filter) {
  if (s.size() > kMaxStringBytes) return ResourceExhaustedError(filter + ": result too long");
  return Status::Ok();
}

// jinja2's attribute getter: dotted paths, dict keys before attributes, integer parts index.
Value GetPath(const Value& item, const std::string& path) {
  Value v = item;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    std::string part =
        path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    bool numeric =
        !part.empty() && std::all_of(part.begin(), part.end(), ::isdigit) && part.size() < 18;
    v = numeric ? GetItem(v, Value::Int(std::stoll(part))) : GetItem(v, Value::String(part));
    if (dot == std::string::npos) return v;
    start = dot + 1;
  }
}

// select/reject/selectattr/rejectattr: args are [attribute,] test name, test args...
Result<Value> SelectFilter(const std::string& name, const Value& value, const CallArgs& args) {
  bool by_attr = name == "selectattr" || name == "rejectattr";
  bool keep_if = name == "select" || name == "selectattr";
  size_t first = by_attr ? 1 : 0;
  if (by_attr && (args.positional.empty() || !args.positional[0].is_string())) {
    return InvalidArgumentError(name + "() needs an attribute name");
  }
  std::string test;
  if (args.positional.size() > first) {
    if (!args.positional[first].is_string()) {
      return InvalidArgumentError(name + "(): the test name must be a string");
    }
    test = args.positional[first].as_string();
  }
  CallArgs test_args;
  for (size_t i = first + 1; i < args.positional.size(); ++i) {
    test_args.positional.push_back(args.positional[i]);
  }
  // jinja2 skips iteration entirely for a falsy input (None included).
  ValueList items;
  if (value.Truthy()) {
    HEARTH_ASSIGN_OR_RETURN(items, Iterate(value));
  }
  ValueList out;
  for (const Value& item : items) {
    Value subject = by_attr ? GetPath(item, args.positional[0].as_string()) : item;
    bool pass = subject.Truthy();
    if (!test.empty()) {
      HEARTH_ASSIGN_OR_RETURN(pass, ApplyTest(test, subject, test_args));
    }
    if (pass == keep_if) out.push_back(item);
  }
  return Value::Generator(std::move(out));
}

Result<Value> MapFilter(const Value& value, const CallArgs& args) {
  ValueList items;
  if (value.Truthy()) {
    HEARTH_ASSIGN_OR_RETURN(items, Iterate(value));
  }
  const Value* attribute = nullptr;
  const Value* def = nullptr;
  for (const auto& [k, v] : args.keyword) {
    if (k == "attribute")
      attribute = &v;
    else if (k == "default")
      def = &v;
    else
      return InvalidArgumentError("map() got an unexpected keyword argument '" + k + "'");
  }
  ValueList out;
  if (attribute != nullptr) {
    if (!attribute->is_string()) return InvalidArgumentError("map(): attribute must be a string");
    for (const Value& item : items) {
      Value v = GetPath(item, attribute->as_string());
      out.push_back(v.is_undefined() && def != nullptr ? *def : v);
    }
    return Value::Generator(std::move(out));
  }
  if (args.positional.empty() || !args.positional[0].is_string()) {
    return InvalidArgumentError("map() needs a filter name or attribute=");
  }
  CallArgs filter_args;
  filter_args.positional.assign(args.positional.begin() + 1, args.positional.end());
  for (const Value& item : items) {
    HEARTH_ASSIGN_OR_RETURN(Value v,
                            ApplyFilter(args.positional[0].as_string(), item, filter_args));
    out.push_back(std::move(v));
  }
  return Value::Generator(std::move(out));
}

Result<Value> ToJsonFilter(const Value& value, const CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(
      auto a, BindArgs(args, "tojson", {"ensure_ascii", "indent", "separators", "sort_keys"}));
  if (!a[2].is_undefined() && !a[2].is_none()) {
    return UnimplementedError("unsupported: tojson(separators=...)");
  }
  int indent = -1;
  if (a[1].is_number() && !a[1].is_float()) {
    indent = static_cast<int>(std::clamp<int64_t>(a[1].as_int(), 0, 64));
  } else if (!a[1].is_undefined() && !a[1].is_none()) {
    return UnimplementedError("unsupported: tojson indent of type " + std::string(a[1].TypeName()));
  }
  HEARTH_ASSIGN_OR_RETURN(std::string json, value.ToJson(indent, a[3].Truthy(), a[0].Truthy()));
  HEARTH_RETURN_IF_ERROR(CheckSize(json, "tojson"));
  return Value::String(std::move(json));
}

Result<Value> IntFilter(const Value& value, const CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, "int", {"default", "base"}));
  Value def = a[0].is_undefined() ? Value::Int(0) : a[0];
  if (value.is_int() || value.is_bool()) return Value::Int(value.as_int());
  if (value.is_float()) {
    double d = value.as_double();
    if (!std::isfinite(d) || std::fabs(d) >= 9.2e18) return def;
    return Value::Int(static_cast<int64_t>(d));
  }
  if (value.is_string()) {
    std::string s = Strip(value.as_string(), "", true, true, true);
    std::string digits;
    for (char c : s) {
      if (c != '_') digits += c;
    }
    errno = 0;
    char* end = nullptr;
    long long i = std::strtoll(digits.c_str(), &end, 10);
    if (!digits.empty() && errno == 0 && *end == '\0') return Value::Int(i);
    double d = std::strtod(digits.c_str(), &end);
    if (!digits.empty() && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) {
      return Value::Int(static_cast<int64_t>(d));
    }
  }
  return def;
}

// Stable sort by key(item) (Value::Less), descending when `reverse`; a comparison error (mixed
// types) is returned instead of thrown out of std::stable_sort.
template <class Key>
Result<Value> SortedList(ValueList items, const Key& key, bool reverse) {
  Status error;
  std::stable_sort(items.begin(), items.end(), [&](const Value& x, const Value& y) {
    if (!error.ok()) return false;
    Result<bool> less = reverse ? Value::Less(key(y), key(x)) : Value::Less(key(x), key(y));
    if (!less.ok()) {
      error = less.status();
      return false;
    }
    return *less;
  });
  HEARTH_RETURN_IF_ERROR(error);
  return Value::List(std::move(items));
}

Result<Value> SortFilter(const Value& value, const CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a,
                          BindArgs(args, "sort", {"reverse", "case_sensitive", "attribute"}));
  HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(value));
  auto key = [&](const Value& item) {
    Value k = a[2].is_string() ? GetPath(item, a[2].as_string()) : item;
    if (k.is_string() && !a[1].Truthy()) return Value::String(AsciiLower(k.as_string()));
    return k;
  };
  return SortedList(std::move(items), key, a[0].Truthy());
}

// dictsort(case_sensitive=False, by='key', reverse=False): (key, value) tuples in order.
Result<Value> DictSortFilter(const Value& value, const CallArgs& args) {
  HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, "dictsort", {"case_sensitive", "by", "reverse"}));
  if (!value.is_dict()) return InvalidArgumentError("dictsort(): can only sort a mapping");
  bool by_value = a[1].is_string() && a[1].as_string() == "value";
  if (a[1].is_string() && !by_value && a[1].as_string() != "key") {
    return InvalidArgumentError("dictsort(): 'by' must be 'key' or 'value'");
  }
  ValueList items;
  for (const auto& [k, v] : value.as_dict().entries) {
    items.push_back(Value::Tuple({Value::String(k), v}));
  }
  auto key = [&](const Value& item) {
    Value k = item.as_list()[by_value ? 1 : 0];
    if (k.is_string() && !a[0].Truthy()) return Value::String(AsciiLower(k.as_string()));
    return k;
  };
  return SortedList(std::move(items), key, a[2].Truthy());
}

}  // namespace

std::string HtmlEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Result<Value> ApplyFilter(const std::string& name, const Value& value, const CallArgs& args) {
  if (name == "tojson") return ToJsonFilter(value, args);
  if (name == "safe") return value.is_markup() ? value : Value::Markup(value.Str());
  if (name == "string") return Value::String(value.Str());
  if (name == "escape" || name == "e") {
    return value.is_markup() ? value : Value::Markup(HtmlEscape(value.Str()));
  }
  if (name == "length" || name == "count") {
    if (value.is_generator())
      return InvalidArgumentError("object of type 'generator' has no len()");
    if (value.is_string()) return Value::Int(static_cast<int64_t>(Utf8Length(value.as_string())));
    if (value.is_list()) return Value::Int(static_cast<int64_t>(value.as_list().size()));
    if (value.is_dict()) return Value::Int(static_cast<int64_t>(value.as_dict().entries.size()));
    if (value.is_undefined()) return Value::Int(0);
    return InvalidArgumentError(std::string("object of type '") + value.TypeName() +
                                "' has no len()");
  }
  if (name == "trim") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"chars"}));
    bool ws = !a[0].is_string();
    return Value::String(Strip(value.Str(), ws ? "" : a[0].as_string(), ws, true, true));
  }
  if (name == "upper") return Value::String(AsciiUpper(value.Str()));
  if (name == "lower") return Value::String(AsciiLower(value.Str()));
  if (name == "title") return Value::String(JinjaTitle(value.Str()));
  if (name == "capitalize") return Value::String(Capitalize(value.Str()));
  if (name == "replace") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"old", "new", "count"}));
    return ReplaceAll(value.Str(), a[0].Str(), a[1].Str(), a[2].is_int() ? a[2].as_int() : -1);
  }
  if (name == "default" || name == "d") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"default_value", "boolean"}));
    bool use_default = a[1].Truthy() ? !value.Truthy() : value.is_undefined();
    if (!use_default) return value;
    return a[0].is_undefined() ? Value::String("") : a[0];
  }
  if (name == "join") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"d", "attribute"}));
    HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(value));
    std::string sep = a[0].is_undefined() ? "" : a[0].Str();
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (i > 0) out += sep;
      out += (a[1].is_string() ? GetPath(items[i], a[1].as_string()) : items[i]).Str();
      HEARTH_RETURN_IF_ERROR(CheckSize(out, name));
    }
    return Value::String(std::move(out));
  }
  if (name == "first" || name == "last") {
    if (name == "last" && value.is_generator()) {
      return InvalidArgumentError("'generator' object is not reversible");
    }
    HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(value));
    if (items.empty()) return Value();
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") {
    HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(value));
    return Value::List(std::move(items));
  }
  if (name == "items") {
    if (value.is_undefined()) return Value::List({});
    if (!value.is_dict()) return InvalidArgumentError("items(): can only iterate a mapping");
    ValueList out;
    for (const auto& [k, v] : value.as_dict().entries) {
      out.push_back(Value::Tuple({Value::String(k), v}));
    }
    return Value::List(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    return SelectFilter(name, value, args);
  }
  if (name == "map") return MapFilter(value, args);
  if (name == "int") return IntFilter(value, args);
  if (name == "float") {
    if (value.is_number()) return Value::Float(value.as_double());
    if (value.is_string()) {
      char* end = nullptr;
      std::string s = Strip(value.as_string(), "", true, true, true);
      double d = std::strtod(s.c_str(), &end);
      if (!s.empty() && *end == '\0') return Value::Float(d);
    }
    return args.positional.empty() ? Value::Float(0.0) : args.positional[0];
  }
  if (name == "abs") {
    if (value.is_float()) return Value::Float(std::fabs(value.as_double()));
    if (value.is_number()) {
      if (value.as_int() == INT64_MIN) return OutOfRangeError("abs(): integer overflow");
      return Value::Int(value.as_int() < 0 ? -value.as_int() : value.as_int());
    }
    return InvalidArgumentError(std::string("bad operand type for abs(): ") + value.TypeName());
  }
  if (name == "reverse") {
    if (value.is_string()) {
      std::vector<std::string> cps = Utf8Chars(value.as_string());
      std::string out;
      for (auto it = cps.rbegin(); it != cps.rend(); ++it) out += *it;
      return Value::String(std::move(out));
    }
    HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(value));
    std::reverse(items.begin(), items.end());
    return Value::List(std::move(items));
  }
  if (name == "sort") return SortFilter(value, args);
  if (name == "dictsort") return DictSortFilter(value, args);
  if (name == "indent") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"width", "first", "blank"}));
    std::string pad = a[0].is_string() ? a[0].as_string()
                      : a[0].is_int() ? std::string(std::clamp<int64_t>(a[0].as_int(), 0, 256), ' ')
                                      : std::string(4, ' ');
    std::vector<std::string> lines = SplitOn(value.Str(), "\n", -1, false);
    std::string out;
    for (size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) out += '\n';
      bool indent_line = (i > 0 || a[1].Truthy()) && (a[2].Truthy() || !lines[i].empty() || i == 0);
      if (indent_line) out += pad;
      out += lines[i];
      HEARTH_RETURN_IF_ERROR(CheckSize(out, name));
    }
    return Value::String(std::move(out));
  }
  return UnimplementedError("unsupported filter '" + name + "'");
}

}  // namespace hearth::jinja
