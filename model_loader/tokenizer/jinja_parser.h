// Parses the tokens of a template into a statement list, following jinja2's grammar and operator
// precedence for the subset chat templates use. Anything outside the subset is an error naming
// the construct and its line:col.
#pragma once

#include <string_view>

#include "model_loader/tokenizer/jinja_ast.h"

namespace hearth::jinja {

// Statement and expression nesting beyond this is an error, not a stack overflow.
inline constexpr int kMaxNestingDepth = 128;
// Left-nested chains (a + b + c ..., x|f|g ..., a.b.c ...) longer than this are an error.
inline constexpr int kMaxChainLength = 256;

Result<StmtList> ParseTemplate(std::string_view source);

}  // namespace hearth::jinja
