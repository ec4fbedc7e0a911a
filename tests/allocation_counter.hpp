#pragma once
// Counts heap allocations made through operator new (the replacement is
// defined once, in allocation_counter.cpp).
namespace testing {
long allocations();
}
