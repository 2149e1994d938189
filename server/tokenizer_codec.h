// The real tokenizer (model_loader/tokenizer) and chat template behind engine::TextCodec.
#pragma once

#include <memory>

#include "engine/text_codec.h"
#include "kernels/core/status.h"
#include "model_loader/loaded_model.h"

namespace hearth::server {

Result<std::shared_ptr<const engine::TextCodec>> MakeTextCodec(const LoadedModel& model);

}  // namespace hearth::server
