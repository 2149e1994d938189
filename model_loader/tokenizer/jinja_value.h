// The value a Jinja2-subset expression evaluates to. Mirrors the Python objects jinja2 sees when
// Hugging Face renders a chat template from JSON: None, bool, int, float, str, list, dict (in
// insertion order), plus jinja2's Undefined (a missing name or attribute, distinct from None),
// namespace() objects and callables (macros, globals, bound methods).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/core/status.h"

namespace hearth::jinja {

class Value;
using ValueList = std::vector<Value>;

// A dict in insertion order (Python 3.7+ semantics); keys are strings, as in JSON.
struct ValueDict {
  std::vector<std::pair<std::string, Value>> entries;
  const Value* Find(std::string_view key) const;
  void Set(const std::string& key, Value value);
};

struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
};

// A builtin function or a macro: receives the evaluated arguments, returns a value or an error.
using Callable = std::function<Result<Value>(const CallArgs& args)>;

class Value {
 public:
  enum class Kind : uint8_t {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kCallable
  };

  Value() = default;  // undefined
  static Value None() {
    Value v;
    v.kind_ = Kind::kNone;
    return v;
  }
  static Value Bool(bool b) {
    Value v;
    v.kind_ = Kind::kBool;
    v.int_ = b;
    return v;
  }
  static Value Int(int64_t i) {
    Value v;
    v.kind_ = Kind::kInt;
    v.int_ = i;
    return v;
  }
  static Value Float(double d) {
    Value v;
    v.kind_ = Kind::kFloat;
    v.float_ = d;
    return v;
  }
  static Value String(std::string s);
  // markupsafe.Markup, what |safe and |escape return: `+` with a plain str HTML-escapes the str.
  static Value Markup(std::string s);
  static Value List(ValueList items);
  // A list that prints as a Python tuple: (a, b), (a,), ().
  static Value Tuple(ValueList items);
  // What jinja2's select/reject/selectattr/rejectattr/map return: a lazy generator. It iterates
  // like a list but is always truthy, has no len(), cannot be indexed, and is not JSON.
  static Value Generator(ValueList items);
  static Value Dict(ValueDict dict);
  static Value Namespace(ValueDict dict);
  static Value Function(std::string name, Callable fn);
  // Converts JSON (ordered, as Python's json.loads keeps order) into values.
  static Value FromJson(const nlohmann::ordered_json& j);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool is_none() const { return kind_ == Kind::kNone; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_int() const { return kind_ == Kind::kInt; }
  bool is_float() const { return kind_ == Kind::kFloat; }
  bool is_number() const { return is_int() || is_float() || is_bool(); }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_list() const { return kind_ == Kind::kList; }
  bool is_generator() const { return generator_; }
  bool is_markup() const { return markup_; }
  bool is_dict() const { return kind_ == Kind::kDict; }
  bool is_namespace() const { return kind_ == Kind::kNamespace; }
  bool is_callable() const { return kind_ == Kind::kCallable; }

  bool as_bool() const { return int_ != 0; }
  int64_t as_int() const { return int_; }  // also valid for bool
  double as_double() const { return is_float() ? float_ : static_cast<double>(int_); }
  const std::string& as_string() const { return *string_; }
  const ValueList& as_list() const { return *list_; }
  const ValueDict& as_dict() const { return *dict_; }  // dict or namespace
  ValueDict& mutable_dict() const { return *dict_; }   // namespaces are mutable by design
  const Callable& as_callable() const { return *callable_; }
  const std::string& callable_name() const { return *string_; }

  // Python truthiness (undefined is false).
  bool Truthy() const;
  // Python's str(): what {{ value }} prints. Undefined prints as "".
  std::string Str() const;
  // Python's repr(), used for the items of a printed list or dict.
  std::string Repr() const;
  // Python ==, with jinja2's rule that two undefined values are equal.
  bool Equals(const Value& other) const;
  // Python's ordering (<); an error for unorderable types.
  static Result<bool> Less(const Value& a, const Value& b);
  // json.dumps(self, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys); indent < 0
  // means no indent. Undefined and callables are not serializable (an error, as in Python).
  Result<std::string> ToJson(int indent, bool sort_keys, bool ensure_ascii = false) const;
  // A short name of the type for error messages ("str", "dict", "undefined", ...).
  const char* TypeName() const;
  // Nesting depth of lists/dicts: 0 for scalars, 1 + the deepest item for containers.
  int depth() const { return depth_; }

 private:
  Kind kind_ = Kind::kUndefined;
  int depth_ = 0;
  bool tuple_ = false;
  bool generator_ = false;
  bool markup_ = false;
  int64_t int_ = 0;
  double float_ = 0;
  std::shared_ptr<const std::string> string_;
  std::shared_ptr<const ValueList> list_;
  std::shared_ptr<ValueDict> dict_;
  std::shared_ptr<const Callable> callable_;
};

// Python's repr(float): the shortest round-trip digits, exponent form below 1e-4 or from 1e16.
std::string FormatPythonFloat(double d);
// Number of Unicode code points in a UTF-8 string (what Python's len() counts).
size_t Utf8Length(std::string_view s);
// Splits UTF-8 into code points, one string each (invalid bytes become single-byte strings).
std::vector<std::string> Utf8Chars(std::string_view s);

}  // namespace hearth::jinja
