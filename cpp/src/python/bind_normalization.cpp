#include "python/common.h"

namespace nthgrad::python {

void bind_normalization(py::module_& m) { (void)m; }

}  // namespace nthgrad::python
