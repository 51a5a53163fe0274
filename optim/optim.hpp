// Everything in optim/: the Optimizer base, SGD, Adam, AdamW, RMSprop, Adagrad, gradient
// clipping, learning-rate schedules, and checkpoints with optimizer state.
#pragma once

#include "rewind/optim/adagrad.hpp"
#include "rewind/optim/adam.hpp"
#include "rewind/optim/checkpoint.hpp"
#include "rewind/optim/clip.hpp"
#include "rewind/optim/optimizer.hpp"
#include "rewind/optim/rmsprop.hpp"
#include "rewind/optim/schedule.hpp"
#include "rewind/optim/sgd.hpp"
