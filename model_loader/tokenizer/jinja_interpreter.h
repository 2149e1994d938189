// Renders a parsed template against a context, with jinja2's scoping (for-loops and macros get
// their own frames; namespace() objects carry state out of loops) and bounded resources: output
// size, loop iterations, and evaluation depth are capped so hostile templates fail with an error.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "model_loader/tokenizer/jinja_ast.h"

namespace hearth::jinja {

struct RenderLimits {
  size_t max_output_bytes = 4 << 20;
  int64_t max_loop_iterations = 1'000'000;  // summed over all loops of one render
  int max_depth = 500;                      // nested evaluation (statements and expressions)
  int max_macro_depth = 64;                 // nested macro calls (recursion)
};

class Interpreter {
 public:
  Interpreter(const ValueDict& context, std::time_t now, RenderLimits limits);
  Result<std::string> Render(const StmtList& program);

 private:
  using Frame = std::unordered_map<std::string, Value>;
  enum class Flow { kNormal, kBreak, kContinue };

  Status Exec(const StmtList& body, std::string& out, Flow& flow);
  Status ExecStmt(const Stmt& s, std::string& out, Flow& flow);
  Status ExecFor(const Stmt& s, std::string& out);
  Status ExecSet(const Stmt& s);
  Status Append(std::string& out, std::string_view text) const;
  Result<Value> Eval(const Expr& e);
  Result<Value> EvalInner(const Expr& e);
  Result<Value> EvalBinary(const Expr& e);
  Result<Value> EvalCall(const Expr& e);
  Result<CallArgs> EvalArgs(const Expr& e, size_t first_arg);
  Value MakeMacro(const Stmt& s);
  Value Lookup(const std::string& name) const;
  void Assign(const std::string& name, Value v);
  Status AtError(const SourcePos& pos, const Status& s) const;

  const ValueDict& context_;
  ValueDict globals_;
  RenderLimits limits_;
  std::vector<std::shared_ptr<Frame>> frames_;
  int64_t iterations_ = 0;
  int depth_ = 0;
  int macro_depth_ = 0;
};

}  // namespace hearth::jinja
