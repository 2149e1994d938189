// Tests, attribute/item access, str and dict methods, iteration and globals. Filters live in
// jinja_filters.cc.
#include "model_loader/tokenizer/jinja_builtins.h"

#include <algorithm>
#include <cctype>

#include "model_loader/tokenizer/jinja_string.h"

namespace hearth::jinja {

Result<std::vector<Value>> BindArgs(const CallArgs& args, std::string_view fn,
                                    std::initializer_list<const char*> names) {
  std::vector<Value> bound(names.size());
  if (args.positional.size() > names.size()) {
    return InvalidArgumentError(std::string(fn) + "() takes at most " +
                                std::to_string(names.size()) + " arguments, got " +
                                std::to_string(args.positional.size()));
  }
  for (size_t i = 0; i < args.positional.size(); ++i) bound[i] = args.positional[i];
  for (const auto& [key, value] : args.keyword) {
    size_t i = 0;
    for (const char* name : names) {
      if (key == name) break;
      ++i;
    }
    if (i == names.size()) {
      return InvalidArgumentError(std::string(fn) + "() got an unexpected keyword argument '" +
                                  key + "'");
    }
    bound[i] = value;
  }
  return bound;
}

bool ContainsNamespace(const Value& v) {
  if (v.is_namespace()) return true;
  if (v.is_list()) {
    return std::any_of(v.as_list().begin(), v.as_list().end(), ContainsNamespace);
  }
  if (v.is_dict()) {
    for (const auto& [k, item] : v.as_dict().entries) {
      if (ContainsNamespace(item)) return true;
    }
  }
  return false;
}

Result<bool> ApplyTest(const std::string& name, const Value& value, const CallArgs& args) {
  auto arg = [&](size_t i) { return i < args.positional.size() ? args.positional[i] : Value(); };
  if (name == "defined") return !value.is_undefined();
  if (name == "undefined") return value.is_undefined();
  if (name == "none") return value.is_none();
  if (name == "boolean") return value.is_bool();
  if (name == "true") return value.is_bool() && value.as_bool();
  if (name == "false") return value.is_bool() && !value.as_bool();
  if (name == "integer") return value.is_int();
  if (name == "float") return value.is_float();
  if (name == "number") return value.is_number();
  if (name == "string") return value.is_string();
  if (name == "mapping") return value.is_dict();
  // jinja2's Undefined is iterable (empty) and passes the sequence test too.
  if (name == "iterable" || name == "sequence") {
    return value.is_list() || value.is_dict() || value.is_string() || value.is_undefined();
  }
  if (name == "callable") return value.is_callable();
  if (name == "lower" || name == "upper") {
    std::string s = value.Str();
    return name == "lower" ? AsciiLower(s) == s : AsciiUpper(s) == s;
  }
  if (name == "eq" || name == "equalto" || name == "==") return value.Equals(arg(0));
  if (name == "ne" || name == "!=") return !value.Equals(arg(0));
  if (name == "sameas") {
    // `is` identity: only meaningful for the singletons templates compare with.
    const Value& other = arg(0);
    if (value.is_none() || value.is_bool() || other.is_none() || other.is_bool()) {
      return value.kind() == other.kind() && value.Equals(other);
    }
    return value.Equals(other) && value.kind() == other.kind();
  }
  if (name == "lt" || name == "lessthan" || name == "<") return Value::Less(value, arg(0));
  if (name == "gt" || name == "greaterthan" || name == ">") return Value::Less(arg(0), value);
  if (name == "le" || name == "<=") {
    HEARTH_ASSIGN_OR_RETURN(bool gt, Value::Less(arg(0), value));
    return !gt;
  }
  if (name == "ge" || name == ">=") {
    HEARTH_ASSIGN_OR_RETURN(bool lt, Value::Less(value, arg(0)));
    return !lt;
  }
  if (name == "in") return Contains(arg(0), value);
  if (name == "divisibleby" || name == "even" || name == "odd") {
    if (!value.is_number() || value.is_float()) {
      return InvalidArgumentError("test '" + name + "' needs an integer, got " + value.TypeName());
    }
    if (name == "even") return value.as_int() % 2 == 0;
    if (name == "odd") return value.as_int() % 2 != 0;
    const Value& d = arg(0);
    if (!d.is_int() || d.as_int() == 0) {
      return InvalidArgumentError("test 'divisibleby' needs a non-zero integer");
    }
    return value.as_int() % d.as_int() == 0;
  }
  return UnimplementedError("unsupported test '" + name + "'");
}

namespace {

Result<Value> StringMethod(const std::string& s, const std::string& name, const CallArgs& args) {
  if (name == "startswith" || name == "endswith") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"prefix"}));
    std::vector<std::string> options;
    if (a[0].is_string()) {
      options.push_back(a[0].as_string());
    } else if (a[0].is_list()) {
      for (const Value& v : a[0].as_list()) {
        if (!v.is_string()) return InvalidArgumentError(name + "() takes str or a tuple of str");
        options.push_back(v.as_string());
      }
    } else {
      return InvalidArgumentError(name + "() takes str or a tuple of str, got " + a[0].TypeName());
    }
    for (const std::string& o : options) {
      bool hit = name == "startswith"
                     ? s.compare(0, o.size(), o) == 0
                     : s.size() >= o.size() && s.compare(s.size() - o.size(), o.size(), o) == 0;
      if (hit) return Value::Bool(true);
    }
    return Value::Bool(false);
  }
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"chars"}));
    if (!a[0].is_undefined() && !a[0].is_none() && !a[0].is_string()) {
      return InvalidArgumentError(name + "() arg must be None or str");
    }
    std::string chars = a[0].is_string() ? a[0].as_string() : std::string();
    bool whitespace = !a[0].is_string();
    return Value::String(Strip(s, chars, whitespace, name != "rstrip", name != "lstrip"));
  }
  if (name == "split" || name == "rsplit") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"sep", "maxsplit"}));
    int64_t maxsplit = a[1].is_int() ? a[1].as_int() : -1;
    if (a[0].is_string() && a[0].as_string().empty()) {
      return InvalidArgumentError("split(): empty separator");
    }
    std::vector<std::string> parts = a[0].is_string()
                                         ? SplitOn(s, a[0].as_string(), maxsplit, name == "rsplit")
                                         : SplitWhitespace(s, maxsplit, name == "rsplit");
    ValueList out;
    for (auto& p : parts) out.push_back(Value::String(std::move(p)));
    return Value::List(std::move(out));
  }
  if (name == "upper") return Value::String(AsciiUpper(s));
  if (name == "lower") return Value::String(AsciiLower(s));
  if (name == "title") return Value::String(PythonTitle(s));
  if (name == "capitalize") return Value::String(Capitalize(s));
  if (name == "replace") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"old", "new", "count"}));
    if (!a[0].is_string() || !a[1].is_string()) {
      return InvalidArgumentError("replace() arguments must be str");
    }
    int64_t count = a[2].is_int() ? a[2].as_int() : -1;
    return ReplaceAll(s, a[0].as_string(), a[1].as_string(), count);
  }
  if (name == "find" || name == "count" || name == "index") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"sub"}));
    if (!a[0].is_string()) return InvalidArgumentError(name + "() argument must be str");
    const std::string& sub = a[0].as_string();
    if (name == "count") {
      if (sub.empty()) return Value::Int(static_cast<int64_t>(Utf8Length(s)) + 1);
      int64_t n = 0;
      for (size_t p = s.find(sub); p != std::string::npos; p = s.find(sub, p + sub.size())) ++n;
      return Value::Int(n);
    }
    size_t p = s.find(sub);
    if (p == std::string::npos) {
      if (name == "index") return InvalidArgumentError("index(): substring not found");
      return Value::Int(-1);
    }
    return Value::Int(static_cast<int64_t>(Utf8Length(std::string_view(s).substr(0, p))));
  }
  if (name == "join") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"iterable"}));
    HEARTH_ASSIGN_OR_RETURN(ValueList items, Iterate(a[0]));
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_string()) return InvalidArgumentError("join(): sequence item is not str");
      if (i > 0) out += s;
      out += items[i].as_string();
      if (out.size() > kMaxStringBytes) return ResourceExhaustedError("join(): result too long");
    }
    return Value::String(std::move(out));
  }
  if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum") {
    if (s.empty()) return Value::Bool(false);
    int (*pred)(int) = name == "isdigit"   ? ::isdigit
                       : name == "isalpha" ? ::isalpha
                       : name == "isspace" ? ::isspace
                                           : ::isalnum;
    return Value::Bool(
        std::all_of(s.begin(), s.end(), [pred](unsigned char c) { return pred(c) != 0; }));
  }
  return UnimplementedError("unsupported str method '" + name + "'");
}

Result<Value> DictMethod(const Value& d, const std::string& name, const CallArgs& args) {
  if (name == "get") {
    HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, name, {"key", "default"}));
    const Value* v = a[0].is_string() ? d.as_dict().Find(a[0].as_string()) : nullptr;
    if (v != nullptr) return *v;
    return a[1].is_undefined() ? Value::None() : a[1];
  }
  HEARTH_RETURN_IF_ERROR(BindArgs(args, name, {}).status());
  ValueList out;
  for (const auto& [k, v] : d.as_dict().entries) {
    if (name == "items") {
      out.push_back(Value::Tuple({Value::String(k), v}));
    } else if (name == "keys") {
      out.push_back(Value::String(k));
    } else {
      out.push_back(v);
    }
  }
  return Value::List(std::move(out));
}

bool IsStringMethod(const std::string& n) {
  static const char* kNames[] = {"startswith", "endswith", "strip",   "lstrip",  "rstrip",
                                 "split",      "rsplit",   "upper",   "lower",   "title",
                                 "capitalize", "replace",  "find",    "count",   "index",
                                 "join",       "isdigit",  "isalpha", "isspace", "isalnum"};
  return std::find(std::begin(kNames), std::end(kNames), n) != std::end(kNames);
}

}  // namespace

Value GetAttribute(const Value& obj, const std::string& name) {
  if (obj.is_string() && IsStringMethod(name)) {
    std::string s = obj.as_string();
    return Value::Function("str." + name,
                           [s, name](const CallArgs& args) { return StringMethod(s, name, args); });
  }
  if (obj.is_dict() && (name == "items" || name == "keys" || name == "values" || name == "get")) {
    return Value::Function(
        "dict." + name, [obj, name](const CallArgs& args) { return DictMethod(obj, name, args); });
  }
  if (obj.is_dict() || obj.is_namespace()) {
    const Value* v = obj.as_dict().Find(name);
    return v != nullptr ? *v : Value();
  }
  return Value();
}

Value GetItem(const Value& obj, const Value& key) {
  if (obj.is_dict() || obj.is_namespace()) {
    if (!key.is_string()) return Value();
    const Value* v = obj.as_dict().Find(key.as_string());
    return v != nullptr ? *v : Value();
  }
  if (obj.is_generator()) return Value();  // not subscriptable
  if ((obj.is_list() || obj.is_string()) && key.is_number() && !key.is_float()) {
    int64_t i = key.as_int();
    if (obj.is_list()) {
      int64_t n = static_cast<int64_t>(obj.as_list().size());
      if (i < 0) i += n;
      return i >= 0 && i < n ? obj.as_list()[i] : Value();
    }
    std::vector<std::string> chars = Utf8Chars(obj.as_string());
    int64_t n = static_cast<int64_t>(chars.size());
    if (i < 0) i += n;
    return i >= 0 && i < n ? Value::String(chars[i]) : Value();
  }
  if (key.is_string()) return GetAttribute(obj, key.as_string());
  return Value();
}

Result<Value> Slice(const Value& obj, const Value& start, const Value& stop, const Value& step) {
  for (const Value* v : {&start, &stop, &step}) {
    if (!v->is_undefined() && !v->is_none() && !(v->is_number() && !v->is_float())) {
      return InvalidArgumentError("slice indices must be integers or None");
    }
  }
  if (obj.is_generator()) return InvalidArgumentError("'generator' object is not subscriptable");
  int64_t st = step.is_number() ? step.as_int() : 1;
  if (st == 0) return InvalidArgumentError("slice step cannot be zero");
  std::vector<std::string> chars;
  if (obj.is_string()) chars = Utf8Chars(obj.as_string());
  if (!obj.is_string() && !obj.is_list()) {
    return InvalidArgumentError(std::string("cannot slice a value of type ") + obj.TypeName());
  }
  int64_t n = obj.is_string() ? static_cast<int64_t>(chars.size())
                              : static_cast<int64_t>(obj.as_list().size());
  // CPython's PySlice_AdjustIndices.
  auto adjust = [&](const Value& v, int64_t def_pos, int64_t def_neg) {
    if (!v.is_number()) return st > 0 ? def_pos : def_neg;
    int64_t i = v.as_int();
    if (i < 0) {
      i += n;
      if (i < 0) i = st < 0 ? -1 : 0;
    } else if (i >= n) {
      i = st < 0 ? n - 1 : n;
    }
    return i;
  };
  int64_t lo = adjust(start, 0, n - 1);
  int64_t hi = adjust(stop, n, -1);
  std::vector<int64_t> picks;
  for (int64_t i = lo; st > 0 ? i < hi : i > hi;) {
    picks.push_back(i);
    // Stop before i + st could overflow (steps can be as large as int64 allows).
    if (st > 0 ? i > hi - st : i < hi - st) break;
    i += st;
  }
  if (obj.is_string()) {
    std::string out;
    for (int64_t i : picks) out += chars[i];
    return Value::String(std::move(out));
  }
  ValueList out;
  for (int64_t i : picks) out.push_back(obj.as_list()[i]);
  return Value::List(std::move(out));
}

Result<bool> Contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      return InvalidArgumentError(
          std::string("'in <string>' requires string as left operand, not ") + item.TypeName());
    }
    return container.as_string().find(item.as_string()) != std::string::npos;
  }
  if (container.is_list()) {
    for (const Value& v : container.as_list()) {
      if (v.Equals(item)) return true;
    }
    return false;
  }
  if (container.is_dict()) {
    return item.is_string() && container.as_dict().Find(item.as_string()) != nullptr;
  }
  if (container.is_undefined()) return false;
  return InvalidArgumentError(std::string("argument of type '") + container.TypeName() +
                              "' is not iterable");
}

Result<ValueList> Iterate(const Value& value) {
  if (value.is_list()) return value.as_list();  // generators too
  if (value.is_undefined()) return ValueList{};
  if (value.is_dict()) {
    ValueList keys;
    for (const auto& [k, v] : value.as_dict().entries) keys.push_back(Value::String(k));
    return keys;
  }
  if (value.is_string()) {
    ValueList chars;
    for (auto& c : Utf8Chars(value.as_string())) chars.push_back(Value::String(std::move(c)));
    return chars;
  }
  return InvalidArgumentError(std::string("'") + value.TypeName() + "' object is not iterable");
}

ValueDict MakeGlobals(std::time_t now) {
  ValueDict g;
  g.Set(
      "range", Value::Function("range", [](const CallArgs& args) -> Result<Value> {
        if (!args.keyword.empty() || args.positional.empty() || args.positional.size() > 3) {
          return InvalidArgumentError("range() takes 1 to 3 positional arguments");
        }
        for (const Value& v : args.positional) {
          if (!v.is_number() || v.is_float()) {
            return InvalidArgumentError("range() arguments must be integers");
          }
        }
        const auto& p = args.positional;
        int64_t start = p.size() == 1 ? 0 : p[0].as_int();
        int64_t stop = p.size() == 1 ? p[0].as_int() : p[1].as_int();
        int64_t step = p.size() == 3 ? p[2].as_int() : 1;
        if (step == 0) return InvalidArgumentError("range() step must not be zero");
        ValueList out;
        for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
          if (static_cast<int64_t>(out.size()) >= kMaxRangeLength) {
            return ResourceExhaustedError("range() longer than " + std::to_string(kMaxRangeLength));
          }
          out.push_back(Value::Int(i));
          if ((step > 0 && i > INT64_MAX - step) || (step < 0 && i < INT64_MIN - step)) break;
        }
        return Value::List(std::move(out));
      }));
  auto make_dict = [](bool ns) {
    return [ns](const CallArgs& args) -> Result<Value> {
      ValueDict d;
      if (args.positional.size() > 1) return InvalidArgumentError("expected at most 1 argument");
      if (!args.positional.empty()) {
        if (!args.positional[0].is_dict()) {
          return InvalidArgumentError("expected a dict as positional argument");
        }
        d = args.positional[0].as_dict();
      }
      for (const auto& [k, v] : args.keyword) {
        if (ns && ContainsNamespace(v)) {
          return UnimplementedError("unsupported: a namespace stored inside a namespace");
        }
        d.Set(k, v);
      }
      return ns ? Value::Namespace(std::move(d)) : Value::Dict(std::move(d));
    };
  };
  g.Set("namespace", Value::Function("namespace", make_dict(true)));
  g.Set("dict", Value::Function("dict", make_dict(false)));
  g.Set("raise_exception",
        Value::Function("raise_exception", [](const CallArgs& args) -> Result<Value> {
          std::string msg = args.positional.empty() ? "" : args.positional[0].Str();
          return InvalidArgumentError("chat template raised an exception: " + msg);
        }));
  g.Set("strftime_now",
        Value::Function("strftime_now", [now](const CallArgs& args) -> Result<Value> {
          HEARTH_ASSIGN_OR_RETURN(auto a, BindArgs(args, "strftime_now", {"format"}));
          if (!a[0].is_string())
            return InvalidArgumentError("strftime_now() needs a format string");
          std::tm tm{};
          gmtime_r(&now, &tm);
          char buf[512];
          size_t n = std::strftime(buf, sizeof(buf), a[0].as_string().c_str(), &tm);
          return Value::String(std::string(buf, n));
        }));
  return g;
}

}  // namespace hearth::jinja
