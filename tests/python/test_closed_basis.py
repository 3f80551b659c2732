"""The closed basis (STYLE.md section 2): the second-order graph of every op
in the table is built from a small, deliberate set of ops, plus the op itself
and its own helpers ("<op>_backward"). An op whose rule reaches outside the
basis fails here until the basis is extended on purpose."""
import numpy as np
import pytest

import nthgrad as ng
from gradcheck import node_names, to_tensors
from op_db import OPS

BASIS = {
    # arithmetic
    "add2", "sub2", "mul2", "div2", "pow2", "add_scalar", "mul_scalar", "pow_scalar", "r_sub_scalar",
    "r_div_scalar", "r_pow_scalar", "add_n", "mul_n",
    # lean derivative graphs: elementwise arithmetic recorded during create_graph passes (ops/detail/polynomial.h)
    "polynomial",
    # a derivative that no longer depends on the input, still tied to it (autograd/engine.cpp)
    "constant",
    # elementwise transcendental building blocks (with their fused "<name>_backward")
    "exp", "log", "sin", "cos", "tanh", "sigmoid", "softplus",
    # selection by a constant mask
    "where", "minimum_scalar", "maximum_scalar",
    # shape: reductions and their adjoints, slicing and its adjoint
    "sum", "mean", "broadcast", "reshape", "transpose", "slice", "slice_backward", "concatenate", "cast",
    "identity",
    # products and scans
    "matmul", "batch_matmul", "cumsum", "cumprod", "linear_recurrence",
    # indexing: every gather and scatter is this adjoint pair (ops/index.cpp)
    "gather_rows", "scatter_rows_add",
    "AccumulateGrad",
}


# Ops defined as compositions of other table ops (their graphs are those ops').
COMPOSED_OF = {"celu": {"elu"}}
# linalg (issue 7): rules written with the family's own adjoint ops.
COMPOSED_OF.update({
    "batch_det": {"batch_inv"}, "batch_logdet": {"batch_inv"}, "batch_cholesky": {"batch_inv", "trilu"},
    "matrix_diag": {"matrix_diag_part"}, "matrix_diag_part": {"matrix_diag"},
    "einsum": {"matrix_diag_part", "matrix_diag"},
    "stft": {"gather"},  # reflect padding (take_along); hidden until node_names stopped reusing freed ids
})
# loss (issue 8): softmax_cross_entropy is -sum(where(onehot, log_softmax(x), 0)) along the class axis.
COMPOSED_OF.update({"softmax_cross_entropy": {"log_softmax"}, "huber_loss": {"abs"}})  # abs: |d| in the branch
# conv (issue 8): convolution, deconvolution and the weight-gradient op close over one another.
_CONV_CYCLE = {"convolution", "deconvolution", "convolution_weight_grad"}
COMPOSED_OF.update({name: _CONV_CYCLE for name in _CONV_CYCLE | {"depthwise_convolution", "depthwise_deconvolution"}})
# output_padding >= stride (issue 9) zero-pads x first: pad and its adjoint, slice
COMPOSED_OF["deconvolution"] = _CONV_CYCLE | {"pad", "slice"}
# normalization (issue 8): the statistics run in the fused op standardize, whose rule is
# standardize_backward (rule in ops), per-channel gamma / beta in channel_affine, whose rule is
# channel_sums (bilinear, rule in mul2 / add2); fused_batch_normalization adds relu.
COMPOSED_OF.update({op: {"standardize", "channel_affine", "channel_sums"} for op in (
    "batch_normalization", "sync_batch_normalization", "layer_normalization", "instance_normalization",
    "group_normalization", "tensor_normalization", "weight_standardization")})
COMPOSED_OF["fused_batch_normalization"] = {"standardize", "channel_affine", "channel_sums", "relu"}
# sequence (issue 8): rnn/lstm/gru are loops of recorded basis ops, the steps and gates cut by split (whose
# rule is a concatenate), relu for rnn's 'relu'; attention is nnabla's composition of affine, softmax, dropout
# and pad (of the masks, for attn_bias_k).
COMPOSED_OF.update({"rnn": {"relu", "split"}, "lstm": {"split", "lstm_cell"}, "gru": {"split"},
                    "multi_head_attention": {"affine", "softmax", "dropout", "pad"}})


def allowed(op):
    names = BASIS | {op, f"{op}_backward"} | COMPOSED_OF.get(op, set())
    return names | {f"{n}_backward" for n in names}


def _cases():
    for i, spec in enumerate(OPS):
        if not spec.differentiable or spec.order < 2:
            continue
        sample = next((s for s in spec.samples if s and not any(0 in shape for shape in s)), None)
        if sample is not None:
            yield pytest.param(spec, sample, id=f"{spec.name}-{i}")


@pytest.mark.parametrize("spec, sample", list(_cases()))
def test_second_order_graphs_stay_in_the_basis(spec, sample):
    rng = np.random.default_rng(0)
    xs = to_tensors(spec.arrays(sample), dtype=ng.float64)
    diff = [x for x in xs if x.requires_grad]
    y = spec.fn(*xs)
    w = ng.tensor(rng.uniform(0.5, 1.5, y.shape), dtype=ng.float64)
    gs = ng.grad((y * w).sum(), diff, create_graph=True, allow_unused=True)
    terms = [(g * ng.tensor(rng.standard_normal(g.shape), dtype=ng.float64)).sum() for g in gs
             if g is not None and g.requires_grad and g.grad_fn.name != "constant"]
    if not terms:
        pytest.skip(f"{spec.name}: the first derivative does not depend on the inputs")
    s = terms[0]
    for term in terms[1:]:
        s = s + term
    hs = ng.grad(s, diff, create_graph=True, allow_unused=True)
    names = node_names(y, *gs, *hs)
    outside = sorted(names - allowed(spec.name))
    assert not outside, f"{spec.name}: its second-order graph uses {outside}, outside the basis"
