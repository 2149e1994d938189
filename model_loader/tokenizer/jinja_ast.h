// The syntax tree of a parsed template: expressions and statements, each with its source
// position so runtime errors can name line:col.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model_loader/tokenizer/jinja_lexer.h"
#include "model_loader/tokenizer/jinja_value.h"

namespace hearth::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,   // literal
    kName,      // name
    kGetAttr,   // args[0].name
    kGetItem,   // args[0][args[1]]
    kSlice,     // args[0][args[1]:args[2]:args[3]] (null args are omitted bounds)
    kCall,      // args[0](args[1..], kwargs)
    kFilter,    // args[0] | name(args[1..], kwargs)
    kTest,      // args[0] is [not] name(args[1..]); negated
    kNeg,       // -args[0]
    kPos,       // +args[0]
    kNot,       // not args[0]
    kBinary,    // args[0] name args[1], name in + - * / // % ** ~ and or
    kCompare,   // args[0] name args[1], name in == != < > <= >= in notin
    kCondExpr,  // args[1] if args[0] else args[2] (args[2] may be null)
    kList,      // [args...]
    kTuple,     // (args...) — evaluates to a list
    kDict,      // {kwargs-like pairs: keys in args[2i], values in args[2i+1]}
  };
  Kind kind;
  SourcePos pos;
  std::string name;
  Value literal;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using StmtList = std::vector<StmtPtr>;

struct MacroParam {
  std::string name;
  ExprPtr default_value;  // null when required
};

struct Stmt {
  enum class Kind {
    kText,    // text
    kOutput,  // {{ expr }}
    kIf,      // conditions[i] -> bodies[i]; a trailing body without condition is else
    kFor,     // for targets in expr [if filter] : body [else else_body]
    kSet,     // set targets = expr | set target.attr = expr | set target %}body{% endset
    kMacro,   // macro name(params) body
    kBreak,
    kContinue,
    kGeneration,  // HF's {% generation %} marker: renders its body unchanged
  };
  Kind kind;
  SourcePos pos;
  std::string text;                  // kText
  ExprPtr expr;                      // kOutput, kFor iterable, kSet value
  ExprPtr filter;                    // kFor inline 'if'
  std::vector<std::string> targets;  // kFor loop variables, kSet names; kMacro: name
  std::string attr;                  // kSet namespace attribute (set ns.attr = ...)
  std::vector<ExprPtr> conditions;   // kIf
  std::vector<StmtList> bodies;      // kIf branches; kFor/kSet/kMacro/kGeneration: bodies[0]
  StmtList else_body;                // kFor
  std::vector<MacroParam> params;    // kMacro
};

}  // namespace hearth::jinja
