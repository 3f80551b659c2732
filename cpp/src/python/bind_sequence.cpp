#include "python/common.h"

namespace nthgrad::python {

void bind_sequence(py::module_& m) { (void)m; }

}  // namespace nthgrad::python
