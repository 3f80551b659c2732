"""nthgrad: gradients of any order for every op, and gradients for functions
that have none.

    import nthgrad as ng
    x = ng.tensor([0.5], requires_grad=True)
    (g,) = ng.grad(ng.functional.sin(x).sum(), [x], create_graph=True)
"""
# Loads libscipy_openblas.so (the BLAS of the matrix products) before _C needs
# it, so the library is found even when the wheel lives in another
# site-packages than nthgrad (a venv over the system site-packages).
import scipy_openblas32 as _scipy_openblas32  # noqa: F401

from . import _C
from ._C import Tensor, DType, from_dlpack
from ._tensor import tensor, from_numpy, zeros, ones, full, where, maximum, minimum
from .autograd import grad, backward, no_grad, enable_grad, set_grad_enabled, is_grad_enabled
from . import functional
from ._indexing import index_put
from . import autograd

float32 = DType.float32
float64 = DType.float64
int64 = DType.int64
bool_ = DType.bool


def empty_cache():
    """Frees the buffers nthgrad keeps for reuse: freed tensors of 256 KiB and
    more, up to NTHGRAD_CACHE_BYTES bytes in all (default 256 MiB)."""
    _C.empty_cache()


def live_counts():
    """Live tensors, graph nodes and storages, for leak checks."""
    return _C.live_counts()


__version__ = "0.1.0"
__all__ = [
    "Tensor", "DType", "tensor", "from_numpy", "zeros", "ones", "full", "grad", "backward", "no_grad",
    "enable_grad", "set_grad_enabled", "is_grad_enabled", "functional", "autograd", "float32", "float64",
    "int64", "bool_", "live_counts", "empty_cache", "from_dlpack", "where", "maximum", "minimum",
    "index_put",
]

# random sources (issue 7): ng.Generator, ng.manual_seed
from . import random  # noqa: E402
from .random import Generator, manual_seed, default_generator  # noqa: E402

__all__ += ["random", "Generator", "manual_seed", "default_generator"]

# the training stack (issue 9): ng.nn, ng.optim, ng.data, checkpoints
from . import nn, optim, data  # noqa: E402
from .serialization import save, load  # noqa: E402

__all__ += ["nn", "optim", "data", "save", "load"]

# surrogate gradients (issue 10): ng.surrogate
from . import surrogate, snn  # noqa: E402

__all__ += ["surrogate", "snn"]

# hard functions and their estimators (issue 11): ng.hard, ng.ste, ng.dab
from . import hard, ste, dab  # noqa: E402

__all__ += ["hard", "ste", "dab"]

# function transforms (issue 12): ng.func.grad, jvp, jacrev, hessian, ...
from . import func  # noqa: E402

__all__ += ["func"]

# data parallelism over MPI (issue 13): ng.distributed; importing it needs no
# MPI, only its calls do (pip install 'nthgrad[mpi]')
from . import distributed  # noqa: E402

__all__ += ["distributed"]
