#include "model_loader/tokenizer/jinja_parser.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <initializer_list>

namespace hearth::jinja {
namespace {

using T = Token::Type;

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : tokens_(std::move(tokens)) {}

  Result<StmtList> ParseAll() {
    std::string end_tag;
    HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({}, &end_tag, SourcePos{}));
    return body;
  }

 private:
  // Bounds recursion: every nested statement body and expression level holds one.
  struct DepthGuard {
    explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
    ~DepthGuard() { --depth_; }
    int& depth_;
  };

  const Token& Cur() const { return tokens_[index_]; }
  const Token& Peek(size_t ahead = 1) const {
    return tokens_[std::min(index_ + ahead, tokens_.size() - 1)];
  }
  void Advance() {
    if (index_ + 1 < tokens_.size()) ++index_;
  }
  bool IsOp(const char* op) const { return Cur().type == T::kOp && Cur().text == op; }
  bool IsName(const char* name) const { return Cur().type == T::kName && Cur().text == name; }

  Status Error(const SourcePos& pos, const std::string& what) const {
    return InvalidArgumentError("chat template syntax error at " + pos.ToString() + ": " + what);
  }
  Status Unexpected(const char* expected) const {
    std::string got = Cur().type == T::kEof        ? "end of template"
                      : Cur().type == T::kBlockEnd ? "'%}'"
                      : Cur().type == T::kVarEnd   ? "'}}'"
                                                   : "'" + Cur().text + "'";
    return Error(Cur().pos, std::string("expected ") + expected + ", got " + got);
  }
  Status Expect(T type, const char* text, const char* what) {
    if (Cur().type != type || (text != nullptr && Cur().text != text)) return Unexpected(what);
    Advance();
    return Status::Ok();
  }
  Status CheckDepth() const {
    if (depth_ > kMaxNestingDepth) {
      return Error(Cur().pos, "nesting deeper than " + std::to_string(kMaxNestingDepth));
    }
    return Status::Ok();
  }
  // Bounds the depth of left-nested trees built by loops (which the depth guard cannot see).
  Status CheckChain(int& length) const {
    if (++length > kMaxChainLength) {
      return Error(Cur().pos, "expression chain longer than " + std::to_string(kMaxChainLength));
    }
    return Status::Ok();
  }
  Result<std::string> ExpectName(const char* what) {
    if (Cur().type != T::kName) return Unexpected(what);
    std::string name = Cur().text;
    Advance();
    return name;
  }

  // Parses statements until a block tag named in `end_tags`; leaves the cursor after that name.
  Result<StmtList> ParseBody(std::initializer_list<const char*> end_tags, std::string* end_tag,
                             SourcePos opened_at) {
    DepthGuard guard(depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    StmtList body;
    while (true) {
      const Token& tok = Cur();
      if (tok.type == T::kEof) {
        if (end_tags.size() == 0) return body;
        return Error(tok.pos, std::string("missing {% ") + *end_tags.begin() +
                                  " %} for the block opened at " + opened_at.ToString());
      }
      if (tok.type == T::kText) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kText;
        s->pos = tok.pos;
        s->text = tok.text;
        body.push_back(std::move(s));
        Advance();
        continue;
      }
      if (tok.type == T::kVarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = Stmt::Kind::kOutput;
        s->pos = tok.pos;
        Advance();
        HEARTH_ASSIGN_OR_RETURN(s->expr, ParseExpression());
        HEARTH_RETURN_IF_ERROR(Expect(T::kVarEnd, nullptr, "'}}'"));
        body.push_back(std::move(s));
        continue;
      }
      if (tok.type != T::kBlockBegin) return Unexpected("text or a tag");
      Advance();
      if (Cur().type != T::kName) return Unexpected("a statement name");
      for (const char* end : end_tags) {
        if (Cur().text == end) {
          *end_tag = end;
          Advance();
          return body;
        }
      }
      HEARTH_ASSIGN_OR_RETURN(StmtPtr stmt, ParseStatement());
      body.push_back(std::move(stmt));
    }
  }

  Result<StmtPtr> ParseStatement() {
    const Token& tok = Cur();
    SourcePos pos = tok.pos;
    std::string keyword = tok.text;
    Advance();
    auto s = std::make_unique<Stmt>();
    s->pos = pos;
    std::string end_tag;
    if (keyword == "if") {
      s->kind = Stmt::Kind::kIf;
      HEARTH_ASSIGN_OR_RETURN(ExprPtr cond, ParseExpression());
      s->conditions.push_back(std::move(cond));
      while (true) {
        HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
        HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({"endif", "elif", "else"}, &end_tag, pos));
        s->bodies.push_back(std::move(body));
        if (end_tag == "endif") break;
        if (end_tag == "elif") {
          HEARTH_ASSIGN_OR_RETURN(ExprPtr c, ParseExpression());
          s->conditions.push_back(std::move(c));
          continue;
        }
        HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
        HEARTH_ASSIGN_OR_RETURN(StmtList else_body, ParseBody({"endif"}, &end_tag, pos));
        s->bodies.push_back(std::move(else_body));
        break;
      }
    } else if (keyword == "for") {
      s->kind = Stmt::Kind::kFor;
      bool paren = IsOp("(");
      if (paren) Advance();
      while (true) {
        HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName("a loop variable name"));
        s->targets.push_back(std::move(name));
        if (!IsOp(",")) break;
        Advance();
      }
      if (paren) HEARTH_RETURN_IF_ERROR(Expect(T::kOp, ")", "')'"));
      HEARTH_RETURN_IF_ERROR(Expect(T::kName, "in", "'in'"));
      HEARTH_ASSIGN_OR_RETURN(s->expr, ParseOr());
      if (IsName("if")) {
        Advance();
        HEARTH_ASSIGN_OR_RETURN(s->filter, ParseExpression());
      }
      if (IsName("recursive")) return Error(Cur().pos, "unsupported construct 'recursive' loop");
      HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
      HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({"endfor", "else"}, &end_tag, pos));
      s->bodies.push_back(std::move(body));
      if (end_tag == "else") {
        HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
        HEARTH_ASSIGN_OR_RETURN(s->else_body, ParseBody({"endfor"}, &end_tag, pos));
      }
    } else if (keyword == "set") {
      s->kind = Stmt::Kind::kSet;
      HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName("a variable name"));
      s->targets.push_back(std::move(name));
      if (IsOp(".")) {
        Advance();
        HEARTH_ASSIGN_OR_RETURN(s->attr, ExpectName("an attribute name"));
      } else {
        while (IsOp(",")) {
          Advance();
          HEARTH_ASSIGN_OR_RETURN(std::string more, ExpectName("a variable name"));
          s->targets.push_back(std::move(more));
        }
      }
      if (Cur().type == T::kBlockEnd && s->targets.size() == 1) {
        // Block set: {% set name %}...{% endset %} captures the rendered body.
        Advance();
        HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({"endset"}, &end_tag, pos));
        s->bodies.push_back(std::move(body));
      } else {
        HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "=", "'='"));
        HEARTH_ASSIGN_OR_RETURN(s->expr, ParseTupleOrExpression());
      }
    } else if (keyword == "macro") {
      s->kind = Stmt::Kind::kMacro;
      HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName("a macro name"));
      s->targets.push_back(std::move(name));
      HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "(", "'('"));
      while (!IsOp(")")) {
        MacroParam param;
        HEARTH_ASSIGN_OR_RETURN(param.name, ExpectName("a parameter name"));
        if (IsOp("=")) {
          Advance();
          HEARTH_ASSIGN_OR_RETURN(param.default_value, ParseExpression());
        }
        s->params.push_back(std::move(param));
        if (!IsOp(",")) break;
        Advance();
      }
      HEARTH_RETURN_IF_ERROR(Expect(T::kOp, ")", "')'"));
      HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
      HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({"endmacro"}, &end_tag, pos));
      s->bodies.push_back(std::move(body));
    } else if (keyword == "break" || keyword == "continue") {
      s->kind = keyword == "break" ? Stmt::Kind::kBreak : Stmt::Kind::kContinue;
    } else if (keyword == "generation") {
      s->kind = Stmt::Kind::kGeneration;
      HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
      HEARTH_ASSIGN_OR_RETURN(StmtList body, ParseBody({"endgeneration"}, &end_tag, pos));
      s->bodies.push_back(std::move(body));
    } else if (keyword.rfind("end", 0) == 0 || keyword == "elif" || keyword == "else") {
      return Error(pos, "unexpected '" + keyword + "' without a matching opening tag");
    } else {
      return Error(pos, "unsupported construct '{% " + keyword + " %}'");
    }
    HEARTH_RETURN_IF_ERROR(Expect(T::kBlockEnd, nullptr, "'%}'"));
    return s;
  }

  ExprPtr Make(Expr::Kind kind, SourcePos pos, std::string name = {}) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->pos = pos;
    e->name = std::move(name);
    return e;
  }

  // `a, b` without parentheses (as in {% set x = a, b %}) is a tuple.
  Result<ExprPtr> ParseTupleOrExpression() {
    SourcePos pos = Cur().pos;
    HEARTH_ASSIGN_OR_RETURN(ExprPtr first, ParseExpression());
    if (!IsOp(",")) return first;
    ExprPtr tuple = Make(Expr::Kind::kTuple, pos);
    tuple->args.push_back(std::move(first));
    while (IsOp(",")) {
      Advance();
      if (Cur().type == T::kBlockEnd || Cur().type == T::kVarEnd) break;
      HEARTH_ASSIGN_OR_RETURN(ExprPtr next, ParseExpression());
      tuple->args.push_back(std::move(next));
    }
    return tuple;
  }

  Result<ExprPtr> ParseExpression() {
    DepthGuard guard(depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    HEARTH_ASSIGN_OR_RETURN(ExprPtr expr, ParseOr());
    int chain = 0;
    while (IsName("if")) {
      HEARTH_RETURN_IF_ERROR(CheckChain(chain));
      SourcePos pos = Cur().pos;
      Advance();
      ExprPtr cond_expr = Make(Expr::Kind::kCondExpr, pos);
      HEARTH_ASSIGN_OR_RETURN(ExprPtr cond, ParseOr());
      ExprPtr otherwise;
      if (IsName("else")) {
        Advance();
        HEARTH_ASSIGN_OR_RETURN(otherwise, ParseExpression());
      }
      cond_expr->args.push_back(std::move(cond));
      cond_expr->args.push_back(std::move(expr));
      cond_expr->args.push_back(std::move(otherwise));
      expr = std::move(cond_expr);
    }
    return expr;
  }

  // jinja2's left-associative binary operators, one precedence level per line, loosest first:
  // each level is `operand (op operand)*` folded to the left, its operands parsed by the next
  // tighter level. `and` hands over to `not` and the comparisons, whose operands start again at
  // `+`/`-`; `**` takes unary operands.
  Result<ExprPtr> ParseOr() { return ParseBinary(T::kName, {"or"}, &Parser::ParseAnd); }
  Result<ExprPtr> ParseAnd() { return ParseBinary(T::kName, {"and"}, &Parser::ParseNot); }
  Result<ExprPtr> ParseMath1() { return ParseBinary(T::kOp, {"+", "-"}, &Parser::ParseConcat); }
  Result<ExprPtr> ParseConcat() { return ParseBinary(T::kOp, {"~"}, &Parser::ParseMath2); }
  Result<ExprPtr> ParseMath2() {
    return ParseBinary(T::kOp, {"*", "/", "//", "%"}, &Parser::ParsePow);
  }
  Result<ExprPtr> ParsePow() { return ParseBinary(T::kOp, {"**"}, &Parser::ParseFilteredUnary); }
  Result<ExprPtr> ParseFilteredUnary() { return ParseUnary(true); }

  // One level of the table above: `ops` are tokens of `type` (kName for the word operators).
  using OperandParser = Result<ExprPtr> (Parser::*)();
  Result<ExprPtr> ParseBinary(T type, std::initializer_list<const char*> ops,
                              OperandParser operand) {
    auto at_op = [&] {
      return Cur().type == type &&
             std::any_of(ops.begin(), ops.end(), [&](const char* op) { return Cur().text == op; });
    };
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, (this->*operand)());
    int chain = 0;
    while (at_op()) {
      HEARTH_RETURN_IF_ERROR(CheckChain(chain));
      ExprPtr e = Make(Expr::Kind::kBinary, Cur().pos, Cur().text);
      Advance();
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, (this->*operand)());
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = std::move(e);
    }
    return left;
  }

  Result<ExprPtr> ParseNot() {
    if (IsName("not")) {
      DepthGuard guard(depth_);
      HEARTH_RETURN_IF_ERROR(CheckDepth());
      ExprPtr e = Make(Expr::Kind::kNot, Cur().pos);
      Advance();
      HEARTH_ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
      e->args.push_back(std::move(operand));
      return e;
    }
    return ParseCompare();
  }

  Result<ExprPtr> ParseCompare() {
    HEARTH_ASSIGN_OR_RETURN(ExprPtr left, ParseMath1());
    bool compared = false;
    while (true) {
      SourcePos pos = Cur().pos;
      std::string op;
      if (Cur().type == T::kOp && (Cur().text == "==" || Cur().text == "!=" || Cur().text == "<" ||
                                   Cur().text == ">" || Cur().text == "<=" || Cur().text == ">=")) {
        op = Cur().text;
        Advance();
      } else if (IsName("in")) {
        op = "in";
        Advance();
      } else if (IsName("not") && Peek().type == T::kName && Peek().text == "in") {
        op = "notin";
        Advance();
        Advance();
      } else {
        return left;
      }
      if (compared) return Error(pos, "unsupported construct: chained comparison");
      compared = true;
      HEARTH_ASSIGN_OR_RETURN(ExprPtr right, ParseMath1());
      ExprPtr e = Make(Expr::Kind::kCompare, pos, op);
      e->args.push_back(std::move(left));
      e->args.push_back(std::move(right));
      left = std::move(e);
    }
  }

  Result<ExprPtr> ParseUnary(bool with_filter) {
    DepthGuard guard(depth_);
    HEARTH_RETURN_IF_ERROR(CheckDepth());
    ExprPtr node;
    if (IsOp("-") || IsOp("+")) {
      node = Make(IsOp("-") ? Expr::Kind::kNeg : Expr::Kind::kPos, Cur().pos);
      Advance();
      HEARTH_ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary(false));
      node->args.push_back(std::move(operand));
    } else {
      HEARTH_ASSIGN_OR_RETURN(node, ParsePrimary());
    }
    HEARTH_ASSIGN_OR_RETURN(node, ParsePostfix(std::move(node)));
    if (with_filter) {
      HEARTH_ASSIGN_OR_RETURN(node, ParseFilterExpr(std::move(node)));
    }
    return node;
  }

  Result<ExprPtr> ParsePrimary() {
    const Token& tok = Cur();
    SourcePos pos = tok.pos;
    if (tok.type == T::kName) {
      const std::string& n = tok.text;
      ExprPtr e = Make(Expr::Kind::kLiteral, pos);
      if (n == "true" || n == "True") {
        e->literal = Value::Bool(true);
      } else if (n == "false" || n == "False") {
        e->literal = Value::Bool(false);
      } else if (n == "none" || n == "None") {
        e->literal = Value::None();
      } else {
        e = Make(Expr::Kind::kName, pos, n);
      }
      Advance();
      return e;
    }
    if (tok.type == T::kString) {
      std::string s;
      while (Cur().type == T::kString) {  // adjacent literals concatenate, as in Python
        s += Cur().text;
        Advance();
      }
      ExprPtr e = Make(Expr::Kind::kLiteral, pos);
      e->literal = Value::String(std::move(s));
      return e;
    }
    if (tok.type == T::kInt) {
      int64_t v = 0;
      auto res = std::from_chars(tok.text.data(), tok.text.data() + tok.text.size(), v);
      if (res.ec != std::errc()) return Error(pos, "integer literal out of range: " + tok.text);
      ExprPtr e = Make(Expr::Kind::kLiteral, pos);
      e->literal = Value::Int(v);
      Advance();
      return e;
    }
    if (tok.type == T::kFloat) {
      ExprPtr e = Make(Expr::Kind::kLiteral, pos);
      e->literal = Value::Float(std::strtod(tok.text.c_str(), nullptr));
      Advance();
      return e;
    }
    if (IsOp("(")) {
      Advance();
      ExprPtr tuple = Make(Expr::Kind::kTuple, pos);
      if (IsOp(")")) {
        Advance();
        return tuple;
      }
      HEARTH_ASSIGN_OR_RETURN(ExprPtr first, ParseExpression());
      if (IsOp(")")) {
        Advance();
        return first;
      }
      tuple->args.push_back(std::move(first));
      while (IsOp(",")) {
        Advance();
        if (IsOp(")")) break;
        HEARTH_ASSIGN_OR_RETURN(ExprPtr next, ParseExpression());
        tuple->args.push_back(std::move(next));
      }
      HEARTH_RETURN_IF_ERROR(Expect(T::kOp, ")", "')'"));
      return tuple;
    }
    if (IsOp("[")) {
      Advance();
      ExprPtr list = Make(Expr::Kind::kList, pos);
      while (!IsOp("]")) {
        HEARTH_ASSIGN_OR_RETURN(ExprPtr item, ParseExpression());
        list->args.push_back(std::move(item));
        if (!IsOp(",")) break;
        Advance();
      }
      HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "]", "']'"));
      return list;
    }
    if (IsOp("{")) {
      Advance();
      ExprPtr dict = Make(Expr::Kind::kDict, pos);
      while (!IsOp("}")) {
        HEARTH_ASSIGN_OR_RETURN(ExprPtr key, ParseExpression());
        HEARTH_RETURN_IF_ERROR(Expect(T::kOp, ":", "':'"));
        HEARTH_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
        dict->args.push_back(std::move(key));
        dict->args.push_back(std::move(value));
        if (!IsOp(",")) break;
        Advance();
      }
      HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "}", "'}'"));
      return dict;
    }
    return Unexpected("an expression");
  }

  Status ParseCallArgs(Expr& call) {
    HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "(", "'('"));
    while (!IsOp(")")) {
      if (IsOp("*") || IsOp("**")) return Error(Cur().pos, "unsupported construct: *args/**kwargs");
      if (Cur().type == T::kName && Peek().type == T::kOp && Peek().text == "=") {
        std::string key = Cur().text;
        Advance();
        Advance();
        HEARTH_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
        call.kwargs.emplace_back(std::move(key), std::move(value));
      } else {
        if (!call.kwargs.empty()) {
          return Error(Cur().pos, "positional argument follows keyword argument");
        }
        HEARTH_ASSIGN_OR_RETURN(ExprPtr value, ParseExpression());
        call.args.push_back(std::move(value));
      }
      if (!IsOp(",")) break;
      Advance();
    }
    return Expect(T::kOp, ")", "')'");
  }

  Result<ExprPtr> ParsePostfix(ExprPtr node) {
    int chain = 0;
    while (true) {
      HEARTH_RETURN_IF_ERROR(CheckChain(chain));
      SourcePos pos = Cur().pos;
      if (IsOp(".")) {
        Advance();
        if (Cur().type == T::kName) {
          ExprPtr e = Make(Expr::Kind::kGetAttr, pos, Cur().text);
          e->args.push_back(std::move(node));
          node = std::move(e);
          Advance();
        } else if (Cur().type == T::kInt) {
          ExprPtr e = Make(Expr::Kind::kGetItem, pos);
          e->args.push_back(std::move(node));
          HEARTH_ASSIGN_OR_RETURN(ExprPtr index, ParsePrimary());
          e->args.push_back(std::move(index));
          node = std::move(e);
        } else {
          return Unexpected("an attribute name");
        }
      } else if (IsOp("[")) {
        Advance();
        HEARTH_ASSIGN_OR_RETURN(node, ParseSubscript(std::move(node), pos));
      } else if (IsOp("(")) {
        ExprPtr call = Make(Expr::Kind::kCall, pos);
        call->args.push_back(std::move(node));
        HEARTH_RETURN_IF_ERROR(ParseCallArgs(*call));
        node = std::move(call);
      } else {
        return node;
      }
    }
  }

  // After '[': an index or a slice [start:stop:step] with any part omitted.
  Result<ExprPtr> ParseSubscript(ExprPtr target, SourcePos pos) {
    ExprPtr parts[3];
    int colons = 0;
    while (true) {
      if (IsOp("]")) break;
      if (IsOp(":")) {
        if (++colons > 2) return Unexpected("']'");
        Advance();
        continue;
      }
      if (parts[colons]) return Unexpected("':' or ']'");
      HEARTH_ASSIGN_OR_RETURN(parts[colons], ParseExpression());
    }
    HEARTH_RETURN_IF_ERROR(Expect(T::kOp, "]", "']'"));
    if (colons == 0) {
      if (!parts[0]) return Error(pos, "empty subscript");
      ExprPtr e = Make(Expr::Kind::kGetItem, pos);
      e->args.push_back(std::move(target));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    ExprPtr e = Make(Expr::Kind::kSlice, pos);
    e->args.push_back(std::move(target));
    for (auto& p : parts) e->args.push_back(std::move(p));
    return e;
  }

  Result<ExprPtr> ParseFilterExpr(ExprPtr node) {
    int chain = 0;
    while (true) {
      HEARTH_RETURN_IF_ERROR(CheckChain(chain));
      SourcePos pos = Cur().pos;
      if (IsOp("|")) {
        Advance();
        HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName("a filter name"));
        ExprPtr e = Make(Expr::Kind::kFilter, pos, name);
        e->args.push_back(std::move(node));
        if (IsOp("(")) HEARTH_RETURN_IF_ERROR(ParseCallArgs(*e));
        node = std::move(e);
      } else if (IsName("is")) {
        Advance();
        bool negated = false;
        if (IsName("not")) {
          negated = true;
          Advance();
        }
        HEARTH_ASSIGN_OR_RETURN(std::string name, ExpectName("a test name"));
        ExprPtr e = Make(Expr::Kind::kTest, pos, name);
        e->negated = negated;
        e->args.push_back(std::move(node));
        const Token& c = Cur();
        bool starts_arg =
            (c.type == T::kName && c.text != "else" && c.text != "or" && c.text != "and") ||
            c.type == T::kString || c.type == T::kInt || c.type == T::kFloat || IsOp("[") ||
            IsOp("{");
        if (IsOp("(")) {
          HEARTH_RETURN_IF_ERROR(ParseCallArgs(*e));
        } else if (starts_arg) {
          HEARTH_ASSIGN_OR_RETURN(ExprPtr arg, ParsePrimary());
          HEARTH_ASSIGN_OR_RETURN(arg, ParsePostfix(std::move(arg)));
          e->args.push_back(std::move(arg));
        }
        node = std::move(e);
      } else if (IsOp("(")) {
        ExprPtr call = Make(Expr::Kind::kCall, pos);
        call->args.push_back(std::move(node));
        HEARTH_RETURN_IF_ERROR(ParseCallArgs(*call));
        node = std::move(call);
      } else {
        return node;
      }
    }
  }

  std::vector<Token> tokens_;
  size_t index_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<StmtList> ParseTemplate(std::string_view source) {
  HEARTH_ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(source));
  return Parser(std::move(tokens)).ParseAll();
}

}  // namespace hearth::jinja
