#pragma once
#include "../core/low.hpp"
