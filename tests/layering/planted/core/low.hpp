#pragma once
// A planted violation: a core header reaching up into nn. The layering
// check must reject this tree (CTest expects it to fail).
#include "../nn/high.hpp"
