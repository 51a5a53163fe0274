// Everything in optim/: the Optimizer base, SGD, Adam, AdamW, RMSprop, Adagrad, gradient
// clipping and learning-rate schedules.
#pragma once

#include "rewind/optim/adagrad.hpp"
#include "rewind/optim/adam.hpp"
#include "rewind/optim/clip.hpp"
#include "rewind/optim/optimizer.hpp"
#include "rewind/optim/rmsprop.hpp"
#include "rewind/optim/schedule.hpp"
#include "rewind/optim/sgd.hpp"
