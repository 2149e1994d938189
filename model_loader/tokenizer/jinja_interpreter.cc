#include "model_loader/tokenizer/jinja_interpreter.h"

#include <cmath>

#include "model_loader/tokenizer/jinja_builtins.h"

namespace hearth::jinja {
namespace {

struct DepthGuard {
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  int& depth_;
};

bool IsInteger(const Value& v) { return v.is_int() || v.is_bool(); }

Status TypeError(const char* op, const Value& a, const Value& b) {
  return InvalidArgumentError(std::string("unsupported operand type(s) for ") + op + ": '" +
                              a.TypeName() + "' and '" + b.TypeName() + "'");
}

Result<Value> Repeat(const Value& seq, int64_t times) {
  if (times < 0) times = 0;
  if (seq.is_string()) {
    const std::string& s = seq.as_string();
    if (!s.empty() && static_cast<uint64_t>(times) > kMaxStringBytes / s.size()) {
      return ResourceExhaustedError("string repetition result too long");
    }
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += s;
    return seq.is_markup() ? Value::Markup(std::move(out)) : Value::String(std::move(out));
  }
  const ValueList& items = seq.as_list();
  if (!items.empty() && static_cast<uint64_t>(times) > kMaxRangeLength / items.size()) {
    return ResourceExhaustedError("list repetition result too long");
  }
  ValueList out;
  for (int64_t i = 0; i < times; ++i) out.insert(out.end(), items.begin(), items.end());
  return Value::List(std::move(out));
}

Result<Value> Arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") {
    std::string s = a.Str() + b.Str();
    if (s.size() > kMaxStringBytes) return ResourceExhaustedError("'~' result too long");
    return Value::String(std::move(s));
  }
  if (a.is_undefined() || b.is_undefined()) {
    return InvalidArgumentError("undefined value used in '" + op + "'");
  }
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.as_string().size() + b.as_string().size() > kMaxStringBytes) {
        return ResourceExhaustedError("'+' result too long");
      }
      // Markup + str escapes the plain side, as markupsafe does.
      if (a.is_markup() || b.is_markup()) {
        return Value::Markup((a.is_markup() ? a.as_string() : HtmlEscape(a.as_string())) +
                             (b.is_markup() ? b.as_string() : HtmlEscape(b.as_string())));
      }
      return Value::String(a.as_string() + b.as_string());
    }
    if (a.is_list() && b.is_list()) {
      if (a.as_list().size() + b.as_list().size() > static_cast<size_t>(kMaxRangeLength)) {
        return ResourceExhaustedError("'+' list result too long");
      }
      ValueList out = a.as_list();
      out.insert(out.end(), b.as_list().begin(), b.as_list().end());
      return Value::List(std::move(out));
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && IsInteger(b)) return Repeat(a, b.as_int());
    if (IsInteger(a) && (b.is_string() || b.is_list())) return Repeat(b, a.as_int());
  }
  if (!a.is_number() || !b.is_number()) return TypeError(op.c_str(), a, b);
  if (IsInteger(a) && IsInteger(b) && op != "/") {
    int64_t x = a.as_int(), y = b.as_int(), r = 0;
    bool overflow = false;
    if (op == "+")
      overflow = __builtin_add_overflow(x, y, &r);
    else if (op == "-")
      overflow = __builtin_sub_overflow(x, y, &r);
    else if (op == "*")
      overflow = __builtin_mul_overflow(x, y, &r);
    else if (op == "//" || op == "%") {
      if (y == 0) return InvalidArgumentError("integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) {
        overflow = op == "//";
      } else {
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors toward negative infinity
          --q;
          m += y;
        }
        r = op == "//" ? q : m;
      }
    } else if (op == "**") {
      if (y < 0) return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
      r = 1;
      for (int64_t i = 0; i < y && !overflow; ++i) {
        overflow = __builtin_mul_overflow(r, x, &r);
        if (r == 0 || r == 1) break;  // further multiplication cannot change it (x is 0 or 1)
        if (r == -1 && x == -1) {
          r = (y % 2 == 0) ? 1 : -1;
          break;
        }
      }
    }
    if (overflow) return OutOfRangeError("integer overflow in '" + op + "'");
    return Value::Int(r);
  }
  double x = a.as_double(), y = b.as_double();
  if (op == "+") return Value::Float(x + y);
  if (op == "-") return Value::Float(x - y);
  if (op == "*") return Value::Float(x * y);
  if (op == "**") return Value::Float(std::pow(x, y));
  if (y == 0) return InvalidArgumentError("float division by zero");
  if (op == "/") return Value::Float(x / y);
  double fl = std::floor(x / y);
  if (op == "//") return Value::Float(fl);
  double m = std::fmod(x, y);
  if (m != 0 && ((m < 0) != (y < 0))) m += y;
  return Value::Float(m);
}

}  // namespace

Interpreter::Interpreter(const ValueDict& context, std::time_t now, RenderLimits limits)
    : context_(context), globals_(MakeGlobals(now)), limits_(limits) {}

Result<std::string> Interpreter::Render(const StmtList& program) {
  frames_ = {std::make_shared<Frame>()};
  std::string out;
  Flow flow = Flow::kNormal;
  HEARTH_RETURN_IF_ERROR(Exec(program, out, flow));
  return out;
}

Status Interpreter::AtError(const SourcePos& pos, const Status& s) const {
  // The innermost position wins: an error already carrying one passes through unchanged.
  if (s.message().rfind("chat template error at ", 0) == 0) return s;
  return Status(s.code(), "chat template error at " + pos.ToString() + ": " + s.message());
}

Status Interpreter::Append(std::string& out, std::string_view text) const {
  if (out.size() + text.size() > limits_.max_output_bytes) {
    return ResourceExhaustedError("rendered output exceeds " +
                                  std::to_string(limits_.max_output_bytes) + " bytes");
  }
  out.append(text);
  return Status::Ok();
}

Value Interpreter::Lookup(const std::string& name) const {
  for (auto it = frames_.rbegin(); it != frames_.rend(); ++it) {
    auto found = (*it)->find(name);
    if (found != (*it)->end()) return found->second;
  }
  if (const Value* v = context_.Find(name)) return *v;
  if (const Value* v = globals_.Find(name)) return *v;
  return Value();
}

void Interpreter::Assign(const std::string& name, Value v) {
  (*frames_.back())[name] = std::move(v);
}

Status Interpreter::Exec(const StmtList& body, std::string& out, Flow& flow) {
  for (const StmtPtr& s : body) {
    HEARTH_RETURN_IF_ERROR(ExecStmt(*s, out, flow));
    if (flow != Flow::kNormal) return Status::Ok();
  }
  return Status::Ok();
}

Status Interpreter::ExecStmt(const Stmt& s, std::string& out, Flow& flow) {
  DepthGuard guard(depth_);
  if (depth_ > limits_.max_depth) {
    return AtError(s.pos, ResourceExhaustedError("evaluation nested deeper than " +
                                                 std::to_string(limits_.max_depth)));
  }
  switch (s.kind) {
    case Stmt::Kind::kText:
      return Append(out, s.text);
    case Stmt::Kind::kOutput: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*s.expr));
      return Append(out, v.Str());
    }
    case Stmt::Kind::kIf:
      for (size_t i = 0; i < s.bodies.size(); ++i) {
        if (i < s.conditions.size()) {
          HEARTH_ASSIGN_OR_RETURN(Value cond, Eval(*s.conditions[i]));
          if (!cond.Truthy()) continue;
        }
        return Exec(s.bodies[i], out, flow);
      }
      return Status::Ok();
    case Stmt::Kind::kFor:
      return ExecFor(s, out);
    case Stmt::Kind::kSet:
      return ExecSet(s);
    case Stmt::Kind::kMacro:
      Assign(s.targets[0], MakeMacro(s));
      return Status::Ok();
    case Stmt::Kind::kBreak:
      flow = Flow::kBreak;
      return Status::Ok();
    case Stmt::Kind::kContinue:
      flow = Flow::kContinue;
      return Status::Ok();
    case Stmt::Kind::kGeneration:
      return Exec(s.bodies[0], out, flow);
  }
  return Status::Ok();
}

Status Interpreter::ExecFor(const Stmt& s, std::string& out) {
  HEARTH_ASSIGN_OR_RETURN(Value iterable, Eval(*s.expr));
  if (iterable.is_none() || iterable.is_number() || iterable.is_callable() ||
      iterable.is_namespace()) {
    return AtError(s.expr->pos, InvalidArgumentError(std::string("'") + iterable.TypeName() +
                                                     "' object is not iterable"));
  }
  Result<ValueList> items_or = Iterate(iterable);
  if (!items_or.ok()) return AtError(s.expr->pos, items_or.status());
  ValueList items = std::move(items_or).value();

  auto bind = [&](Frame& frame, const Value& item) -> Status {
    if (s.targets.size() == 1) {
      frame[s.targets[0]] = item;
      return Status::Ok();
    }
    HEARTH_ASSIGN_OR_RETURN(ValueList parts, Iterate(item));
    if (parts.size() != s.targets.size()) {
      return AtError(s.pos, InvalidArgumentError("cannot unpack " + std::to_string(parts.size()) +
                                                 " values into " +
                                                 std::to_string(s.targets.size()) + " names"));
    }
    for (size_t i = 0; i < parts.size(); ++i) frame[s.targets[i]] = parts[i];
    return Status::Ok();
  };

  if (s.filter) {
    ValueList kept;
    for (const Value& item : items) {
      frames_.push_back(std::make_shared<Frame>());
      Status st = bind(*frames_.back(), item);
      Result<Value> cond = st.ok() ? Eval(*s.filter) : Result<Value>(st);
      frames_.pop_back();
      if (!cond.ok()) return cond.status();
      if (cond->Truthy()) kept.push_back(item);
    }
    items = std::move(kept);
  }
  if (items.empty()) {
    Flow flow = Flow::kNormal;
    return Exec(s.else_body, out, flow);
  }
  const int64_t n = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < n; ++i) {
    if (++iterations_ > limits_.max_loop_iterations) {
      return AtError(
          s.pos, ResourceExhaustedError("more than " + std::to_string(limits_.max_loop_iterations) +
                                        " loop iterations"));
    }
    // jinja2 gives each iteration a fresh scope: assignments do not carry to the next one.
    auto frame = std::make_shared<Frame>();
    HEARTH_RETURN_IF_ERROR(bind(*frame, items[i]));
    ValueDict loop;
    loop.Set("index", Value::Int(i + 1));
    loop.Set("index0", Value::Int(i));
    loop.Set("revindex", Value::Int(n - i));
    loop.Set("revindex0", Value::Int(n - i - 1));
    loop.Set("first", Value::Bool(i == 0));
    loop.Set("last", Value::Bool(i == n - 1));
    loop.Set("length", Value::Int(n));
    loop.Set("depth", Value::Int(1));
    loop.Set("depth0", Value::Int(0));
    if (i > 0) loop.Set("previtem", items[i - 1]);
    if (i + 1 < n) loop.Set("nextitem", items[i + 1]);
    loop.Set("cycle", Value::Function("loop.cycle", [i](const CallArgs& args) -> Result<Value> {
               if (args.positional.empty())
                 return InvalidArgumentError("no items for cycling given");
               return args.positional[i % args.positional.size()];
             }));
    (*frame)["loop"] = Value::Dict(std::move(loop));
    frames_.push_back(frame);
    Flow flow = Flow::kNormal;
    Status st = Exec(s.bodies[0], out, flow);
    frames_.pop_back();
    HEARTH_RETURN_IF_ERROR(st);
    if (flow == Flow::kBreak) break;
  }
  return Status::Ok();
}

Status Interpreter::ExecSet(const Stmt& s) {
  Value v;
  if (!s.bodies.empty()) {
    std::string captured;
    Flow flow = Flow::kNormal;
    HEARTH_RETURN_IF_ERROR(Exec(s.bodies[0], captured, flow));
    v = Value::String(std::move(captured));
  } else {
    HEARTH_ASSIGN_OR_RETURN(v, Eval(*s.expr));
  }
  if (!s.attr.empty()) {
    Value target = Lookup(s.targets[0]);
    if (!target.is_namespace()) {
      return AtError(s.pos,
                     InvalidArgumentError("cannot assign attribute on non-namespace object '" +
                                          s.targets[0] + "'"));
    }
    if (ContainsNamespace(v)) {
      return AtError(s.pos,
                     UnimplementedError("unsupported: a namespace stored inside a namespace"));
    }
    target.mutable_dict().Set(s.attr, std::move(v));
    return Status::Ok();
  }
  if (s.targets.size() == 1) {
    Assign(s.targets[0], std::move(v));
    return Status::Ok();
  }
  Result<ValueList> parts = Iterate(v);
  if (!parts.ok() || parts->size() != s.targets.size()) {
    return AtError(s.pos, InvalidArgumentError("cannot unpack the value into " +
                                               std::to_string(s.targets.size()) + " names"));
  }
  for (size_t i = 0; i < s.targets.size(); ++i) Assign(s.targets[i], (*parts)[i]);
  return Status::Ok();
}

Value Interpreter::MakeMacro(const Stmt& s) {
  const Stmt* macro = &s;
  return Value::Function(s.targets[0], [this, macro](const CallArgs& args) -> Result<Value> {
    if (args.positional.size() > macro->params.size()) {
      return InvalidArgumentError("macro '" + macro->targets[0] + "' takes " +
                                  std::to_string(macro->params.size()) + " arguments, got " +
                                  std::to_string(args.positional.size()));
    }
    if (macro_depth_ >= limits_.max_macro_depth) {
      return ResourceExhaustedError("macro calls nested deeper than " +
                                    std::to_string(limits_.max_macro_depth));
    }
    DepthGuard call_guard(macro_depth_);
    // A macro sees the template's top-level names and its own parameters.
    std::vector<std::shared_ptr<Frame>> saved = {frames_.front(), std::make_shared<Frame>()};
    std::swap(saved, frames_);
    Status status;
    std::string out;
    for (size_t i = 0; i < macro->params.size() && status.ok(); ++i) {
      const MacroParam& p = macro->params[i];
      Value v;
      bool given = false;
      if (i < args.positional.size()) {
        v = args.positional[i];
        given = true;
      }
      for (const auto& [k, kv] : args.keyword) {
        if (k == p.name) {
          v = kv;
          given = true;
        }
      }
      if (!given && p.default_value) {
        Result<Value> d = Eval(*p.default_value);
        if (!d.ok())
          status = d.status();
        else
          v = std::move(d).value();
      }
      (*frames_.back())[p.name] = std::move(v);
    }
    for (const auto& [k, kv] : args.keyword) {
      bool known = false;
      for (const MacroParam& p : macro->params) known = known || p.name == k;
      if (!known && status.ok()) {
        status = InvalidArgumentError("macro '" + macro->targets[0] +
                                      "' got an unexpected keyword argument '" + k + "'");
      }
    }
    if (status.ok()) {
      Flow flow = Flow::kNormal;
      status = Exec(macro->bodies[0], out, flow);
    }
    std::swap(saved, frames_);
    HEARTH_RETURN_IF_ERROR(status);
    return Value::String(std::move(out));
  });
}

Result<Value> Interpreter::Eval(const Expr& e) {
  DepthGuard guard(depth_);
  if (depth_ > limits_.max_depth) {
    return AtError(e.pos, ResourceExhaustedError("evaluation nested deeper than " +
                                                 std::to_string(limits_.max_depth)));
  }
  Result<Value> v = EvalInner(e);
  if (!v.ok()) return AtError(e.pos, v.status());
  if (v->depth() > kMaxValueDepth) {
    return AtError(e.pos, ResourceExhaustedError("value nested deeper than " +
                                                 std::to_string(kMaxValueDepth)));
  }
  return v;
}

Result<CallArgs> Interpreter::EvalArgs(const Expr& e, size_t first_arg) {
  CallArgs args;
  for (size_t i = first_arg; i < e.args.size(); ++i) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i]));
    args.positional.push_back(std::move(v));
  }
  for (const auto& [k, ex] : e.kwargs) {
    HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*ex));
    args.keyword.emplace_back(k, std::move(v));
  }
  return args;
}

Result<Value> Interpreter::EvalCall(const Expr& e) {
  HEARTH_ASSIGN_OR_RETURN(Value callee, Eval(*e.args[0]));
  if (!callee.is_callable()) {
    std::string what =
        e.args[0]->kind == Expr::Kind::kName || e.args[0]->kind == Expr::Kind::kGetAttr
            ? "'" + e.args[0]->name + "'"
            : "value";
    return callee.is_undefined()
               ? InvalidArgumentError(what + " is undefined (not a known function or method)")
               : InvalidArgumentError(what + " of type " + callee.TypeName() + " is not callable");
  }
  HEARTH_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
  return callee.as_callable()(args);
}

Result<Value> Interpreter::EvalBinary(const Expr& e) {
  HEARTH_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
  if (e.name == "and") {
    if (!a.Truthy()) return a;
    return Eval(*e.args[1]);
  }
  if (e.name == "or") {
    if (a.Truthy()) return a;
    return Eval(*e.args[1]);
  }
  HEARTH_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
  return Arithmetic(e.name, a, b);
}

Result<Value> Interpreter::EvalInner(const Expr& e) {
  switch (e.kind) {
    case Expr::Kind::kLiteral:
      return e.literal;
    case Expr::Kind::kName:
      return Lookup(e.name);
    case Expr::Kind::kGetAttr: {
      HEARTH_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      if (obj.is_undefined()) {
        return InvalidArgumentError("undefined value has no attribute '" + e.name + "'");
      }
      return GetAttribute(obj, e.name);
    }
    case Expr::Kind::kGetItem: {
      HEARTH_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      HEARTH_ASSIGN_OR_RETURN(Value key, Eval(*e.args[1]));
      if (obj.is_undefined()) {
        return InvalidArgumentError("undefined value has no item " + key.Repr());
      }
      return GetItem(obj, key);
    }
    case Expr::Kind::kSlice: {
      HEARTH_ASSIGN_OR_RETURN(Value obj, Eval(*e.args[0]));
      Value parts[3];
      for (int i = 0; i < 3; ++i) {
        if (e.args[i + 1]) {
          HEARTH_ASSIGN_OR_RETURN(parts[i], Eval(*e.args[i + 1]));
        }
      }
      if (obj.is_undefined()) return InvalidArgumentError("cannot slice an undefined value");
      return Slice(obj, parts[0], parts[1], parts[2]);
    }
    case Expr::Kind::kCall:
      return EvalCall(e);
    case Expr::Kind::kFilter: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      HEARTH_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      return ApplyFilter(e.name, v, args);
    }
    case Expr::Kind::kTest: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      HEARTH_ASSIGN_OR_RETURN(CallArgs args, EvalArgs(e, 1));
      HEARTH_ASSIGN_OR_RETURN(bool pass, ApplyTest(e.name, v, args));
      return Value::Bool(pass != e.negated);
    }
    case Expr::Kind::kNeg:
    case Expr::Kind::kPos: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      if (!v.is_number()) {
        return InvalidArgumentError(std::string("bad operand type for unary ") +
                                    (e.kind == Expr::Kind::kNeg ? "-" : "+") + ": '" +
                                    v.TypeName() + "'");
      }
      if (e.kind == Expr::Kind::kPos) return v.is_float() ? v : Value::Int(v.as_int());
      if (v.is_float()) return Value::Float(-v.as_double());
      if (v.as_int() == INT64_MIN) return OutOfRangeError("integer overflow in unary -");
      return Value::Int(-v.as_int());
    }
    case Expr::Kind::kNot: {
      HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[0]));
      return Value::Bool(!v.Truthy());
    }
    case Expr::Kind::kBinary:
      return EvalBinary(e);
    case Expr::Kind::kCompare: {
      HEARTH_ASSIGN_OR_RETURN(Value a, Eval(*e.args[0]));
      HEARTH_ASSIGN_OR_RETURN(Value b, Eval(*e.args[1]));
      const std::string& op = e.name;
      if (op == "==") return Value::Bool(a.Equals(b));
      if (op == "!=") return Value::Bool(!a.Equals(b));
      if (op == "in" || op == "notin") {
        HEARTH_ASSIGN_OR_RETURN(bool in, Contains(b, a));
        return Value::Bool(in == (op == "in"));
      }
      bool swap = op == ">" || op == "<=";
      HEARTH_ASSIGN_OR_RETURN(bool less, swap ? Value::Less(b, a) : Value::Less(a, b));
      return Value::Bool(op == "<" || op == ">" ? less : !less);
    }
    case Expr::Kind::kCondExpr: {
      HEARTH_ASSIGN_OR_RETURN(Value cond, Eval(*e.args[0]));
      if (cond.Truthy()) return Eval(*e.args[1]);
      if (e.args[2]) return Eval(*e.args[2]);
      return Value();
    }
    case Expr::Kind::kList:
    case Expr::Kind::kTuple: {
      ValueList items;
      for (const ExprPtr& a : e.args) {
        HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*a));
        items.push_back(std::move(v));
      }
      if (e.kind == Expr::Kind::kTuple) return Value::Tuple(std::move(items));
      return Value::List(std::move(items));
    }
    case Expr::Kind::kDict: {
      ValueDict dict;
      for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
        HEARTH_ASSIGN_OR_RETURN(Value k, Eval(*e.args[i]));
        HEARTH_ASSIGN_OR_RETURN(Value v, Eval(*e.args[i + 1]));
        if (!k.is_string()) {
          return UnimplementedError(std::string("unsupported: dict key of type ") + k.TypeName());
        }
        dict.Set(k.as_string(), std::move(v));
      }
      return Value::Dict(std::move(dict));
    }
  }
  return InternalError("unknown expression kind");
}

}  // namespace hearth::jinja
