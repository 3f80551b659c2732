#include "python/common.h"

namespace nthgrad::python {

void bind_linalg(py::module_& m) { (void)m; }

}  // namespace nthgrad::python
