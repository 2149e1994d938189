// jinja2's filters, tests, str/dict methods and globals, in the subset chat templates use, with
// Hugging Face's overrides (tojson without HTML escaping, raise_exception, strftime_now).
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include "model_loader/tokenizer/jinja_value.h"

namespace hearth::jinja {

// Limits every string or list a builtin may build (the renderer's output cap).
inline constexpr size_t kMaxStringBytes = 4 << 20;
inline constexpr int64_t kMaxRangeLength = 1 << 20;
inline constexpr int kMaxValueDepth = 256;

// Binds positional and keyword arguments to the parameter names of a builtin, in order;
// unbound parameters are undefined. Unknown keywords and surplus arguments are errors.
Result<std::vector<Value>> BindArgs(const CallArgs& args, std::string_view fn,
                                    std::initializer_list<const char*> names);

// markupsafe.escape of a str: & < > " ' as HTML entities.
std::string HtmlEscape(const std::string& s);
// value | name(args...). Unknown filters are an error naming the filter.
Result<Value> ApplyFilter(const std::string& name, const Value& value, const CallArgs& args);
// value is name(args...). Unknown tests are an error naming the test.
Result<bool> ApplyTest(const std::string& name, const Value& value, const CallArgs& args);
// obj.name as jinja2 resolves it on a str, dict or list: a bound method when the type has one
// (str.strip, dict.items, ...), otherwise the dict's key; undefined when neither exists.
Value GetAttribute(const Value& obj, const std::string& name);
// obj[key]: dict key, list/str index (negative counts from the end), else attribute.
Value GetItem(const Value& obj, const Value& key);
// obj[start:stop:step] on a list or str (Python slice semantics; undefined parts are omitted).
Result<Value> Slice(const Value& obj, const Value& start, const Value& stop, const Value& step);
// `item in container`.
Result<bool> Contains(const Value& container, const Value& item);
// Iterates as Python does: list items, dict keys, str characters; undefined is empty.
Result<ValueList> Iterate(const Value& value);
// The globals every template sees: range, namespace, dict, raise_exception, strftime_now.
ValueDict MakeGlobals(std::time_t now);
bool ContainsNamespace(const Value& v);

}  // namespace hearth::jinja
