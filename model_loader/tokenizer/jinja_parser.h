// Parses the tokens of a template into a statement list, following jinja2's grammar and operator
// precedence for the subset chat templates use. Anything outside the subset is an error naming
// the construct and its line:col.
#pragma once

#include <string_view>

#include "model_loader/tokenizer/jinja_ast.h"

namespace hearth::jinja {

// Statement and expression nesting beyond this is an error, not a stack overflow.
inline constexpr int kMaxNestingDepth = 128;

Result<StmtList> ParseTemplate(std::string_view source);

}  // namespace hearth::jinja
