// Every layer: modules, Linear, Embedding, the recurrent cells and sequence layers.
#pragma once

#include "rewind/layers/cell_weights.hpp"
#include "rewind/layers/embedding.hpp"
#include "rewind/layers/gru_cell.hpp"
#include "rewind/layers/linear.hpp"
#include "rewind/layers/lstm_cell.hpp"
#include "rewind/layers/module.hpp"
#include "rewind/layers/recurrent.hpp"
#include "rewind/layers/rnn_cell.hpp"
#include "rewind/layers/sequence.hpp"
#include "rewind/layers/variant_sequence.hpp"
