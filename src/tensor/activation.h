// Activation functions the towers use (config.json names them; the model's config parses
// them).
#pragma once

namespace clap {

enum class Activation { Relu, Gelu, GeluTanh, Silu, Tanh };

}  // namespace clap
