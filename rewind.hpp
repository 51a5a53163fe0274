// rewind: tape-based reverse-mode autodiff for recurrent networks. Include this one header
// for the whole public API.
#pragma once

#include "rewind/core/error.hpp"
#include "rewind/core/format.hpp"
#include "rewind/core/gradcheck.hpp"
#include "rewind/core/graph.hpp"
#include "rewind/core/parameter.hpp"
#include "rewind/core/random.hpp"
#include "rewind/core/shape.hpp"
#include "rewind/core/tensor.hpp"
#include "rewind/ops/activation.hpp"
#include "rewind/ops/dropout.hpp"
#include "rewind/ops/elementwise.hpp"
#include "rewind/ops/embedding.hpp"
#include "rewind/ops/linalg.hpp"
#include "rewind/ops/loss.hpp"
#include "rewind/ops/reduce.hpp"
#include "rewind/ops/registry.hpp"
#include "rewind/ops/shape.hpp"
#include "rewind/ops/unary.hpp"
#include "rewind/optim/optim.hpp"
