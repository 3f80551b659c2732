// Convolution layers (technical note section 2). Three recorded ops close over
// one another at every order:
//   convolution(x, w)              gx = deconvolution(gy, w)
//                                  gw = convolution_weight_grad(x, gy)
//   deconvolution(x, w)            gx = convolution(gy, w)
//                                  gw = convolution_weight_grad(gy, x)   (x and gy swap roles)
//   convolution_weight_grad(x, gy) (bilinear) for an incoming weight-shaped g:
//                                  gx = deconvolution(gy, g), g_gy = convolution(x, g)
// and the bias gradient is sum(gy) over batch and spatial axes. The depthwise
// ops are these with group = channels and a reshaped weight.
#include "nthgrad/ops/conv.h"

#include <algorithm>

#include "autograd/record.h"
#include "kernels/kernels.h"
#include "nthgrad/ops/array.h"
#include "nthgrad/ops/math.h"
#include "nthgrad/ops/reduction.h"
#include "ops/detail/check.h"

namespace nthgrad {

namespace {

using kernels::ConvGeometry;

std::string vec_str(const std::vector<int64_t>& v) { return shape_str(Shape(v.begin(), v.end())); }

// One convolution from its input's point of view (x -> y), with the batch
// axes the user's x has before base_axis. Deconvolution uses the
// convolution it is the adjoint of: its input is y-shaped, its output x-shaped.
struct Conv {
  ConvGeometry g;
  Shape lead;  // the batch axes M...

  int64_t n() const { return static_cast<int64_t>(g.kernel.size()); }
  Shape data_shape(int64_t channels, const Shape& spatial) const {
    Shape s = lead;
    if (!g.channel_last) s.push_back(channels);
    s.insert(s.end(), spatial.begin(), spatial.end());
    if (g.channel_last) s.push_back(channels);
    return s;
  }
  Shape x_shape() const { return data_shape(g.channels, g.in_size); }
  Shape y_shape() const { return data_shape(g.out_channels, g.out_size); }
  Shape w_shape() const {
    const int64_t per_group = g.channels / g.group;
    Shape s{g.out_channels};
    if (!g.channel_last) s.push_back(per_group);
    s.insert(s.end(), g.kernel.begin(), g.kernel.end());
    if (g.channel_last) s.push_back(per_group);
    return s;
  }
  // Every axis of x or y but the channel axis: what a bias gradient sums over.
  Axes non_channel_axes() const {
    const int64_t rank = static_cast<int64_t>(lead.size()) + 1 + n();
    const int64_t channel = g.channel_last ? rank - 1 : static_cast<int64_t>(lead.size());
    Axes axes;
    for (int64_t a = 0; a < rank; ++a)
      if (a != channel) axes.push_back(a);
    return axes;
  }
  // A data tensor with its batch axes flattened to one, as the kernels take it.
  Tensor flat(const Tensor& t) const {
    Shape s{g.batch};
    s.insert(s.end(), t.shape().begin() + static_cast<int64_t>(lead.size()), t.shape().end());
    return t.reshape(s);
  }
};

Variable conv_op(const Variable& x, const Variable& w, const Variable& bias, const Conv& c);
Variable deconv_op(const Variable& x, const Variable& w, const Variable& bias, const Conv& c);
Variable weight_grad_op(const Variable& x, const Variable& gy, const Conv& c);

Variable bias_grad(const Variable& gy, const Conv& c) { return sum(gy, c.non_channel_axes()); }

// Which of (data, weight) to save: each is read only by the other's gradient.
Saved cross_saved(const Variable& a, const Variable& b) {
  return Saved{(b.requires_grad() ? 1u : 0u) | (a.requires_grad() ? 2u : 0u), 0};
}

Tensor bias_value(const Variable& bias) { return bias.defined() ? bias.value() : Tensor(); }

VariableList inputs_of(const Variable& a, const Variable& b, const Variable& bias) {
  VariableList in{a, b};
  if (bias.defined()) in.push_back(bias);
  return in;
}

Variable conv_op(const Variable& x, const Variable& w, const Variable& bias, const Conv& c) {
  Tensor y = kernels::conv_forward(c.flat(x.value()), w.value(), bias_value(bias), c.g).reshape(c.y_shape());
  return record("convolution", inputs_of(x, w, bias), y, cross_saved(x, w), [c](const Ctx& ctx) {
    VariableList g(ctx.num_inputs());
    if (ctx.needs(0)) g[0] = deconv_op(ctx.gy(), ctx.in(1), {}, c);
    if (ctx.needs(1)) g[1] = weight_grad_op(ctx.in(0), ctx.gy(), c);
    if (ctx.num_inputs() > 2 && ctx.needs(2)) g[2] = bias_grad(ctx.gy(), c);
    return g;
  });
}

// x is y-shaped for c; the output is x-shaped.
Variable deconv_op(const Variable& x, const Variable& w, const Variable& bias, const Conv& c) {
  Tensor y = kernels::conv_transpose(c.flat(x.value()), w.value(), bias_value(bias), c.g).reshape(c.x_shape());
  return record("deconvolution", inputs_of(x, w, bias), y, cross_saved(x, w), [c](const Ctx& ctx) {
    VariableList g(ctx.num_inputs());
    if (ctx.needs(0)) g[0] = conv_op(ctx.gy(), ctx.in(1), {}, c);
    if (ctx.needs(1)) g[1] = weight_grad_op(ctx.gy(), ctx.in(0), c);
    if (ctx.num_inputs() > 2 && ctx.needs(2)) g[2] = bias_grad(ctx.gy(), c);
    return g;
  });
}

Variable weight_grad_op(const Variable& x, const Variable& gy, const Conv& c) {
  Tensor gw = kernels::conv_weight_grad(c.flat(x.value()), c.flat(gy.value()), c.g);
  return record("convolution_weight_grad", {x, gy}, gw, cross_saved(x, gy), [c](const Ctx& ctx) {
    const Variable& gw_grad = ctx.gy();
    Variable gx, ggy;
    if (ctx.needs(0)) gx = deconv_op(ctx.in(1), gw_grad, {}, c);
    if (ctx.needs(1)) ggy = conv_op(ctx.in(0), gw_grad, {}, c);
    return grads(gx, ggy);
  });
}

// ---- argument checks ----

// pad / stride / dilation (and output_padding): n entries, each >= min; empty = fill.
std::vector<int64_t> per_axis(const char* op, const char* arg, const std::vector<int64_t>& v, int64_t n,
                              int64_t fill, int64_t min, const Shape& ws) {
  if (v.empty()) return std::vector<int64_t>(n, fill);
  if (static_cast<int64_t>(v.size()) != n)
    throw ValueError(detail::cat(op, ": ", arg, " ", vec_str(v), " must have one entry per spatial axis (", n,
                                 " for weight of shape ", shape_str(ws), ")"));
  // (the upper bound keeps every size computed from them within int64)
  constexpr int64_t kMax = int64_t{1} << 30;
  for (int64_t e : v)
    if (e < min || e > kMax)
      throw ValueError(detail::cat(op, ": ", arg, " ", vec_str(v), " must have entries in [", min, ", 2^30]"));
  return v;
}

// The layout checks both ops share; fills g's options, batch and n-d sizes
// of the op's input x (spatial sizes returned), and c.lead.
Shape check_layout(const char* op, const Variable& x, const Shape& ws, int64_t base_axis,
                   const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                   const std::vector<int64_t>& dilation, int64_t group, bool channel_last, Conv& c,
                   int64_t& x_channels) {
  const int64_t n = static_cast<int64_t>(ws.size()) - 2;
  if (n < 1)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(ws),
                                 " must have rank >= 3 (two channel axes and one or more kernel axes)"));
  const int64_t b = base_axis < 0 ? base_axis + x.ndim() : base_axis;
  if (b < 0 || b >= x.ndim())
    throw IndexError(detail::cat(op, ": base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  if (x.ndim() != b + 1 + n)
    throw ValueError(detail::cat(op, ": x of shape ", shape_str(x.shape()), " with base_axis=", base_axis, " has ",
                                 x.ndim() - b - 1, " spatial axes, but weight of shape ", shape_str(ws),
                                 " has ", n, " kernel axes"));
  if (group < 1) throw ValueError(detail::cat(op, ": group must be >= 1, got ", group));
  const Shape& xs = x.shape();
  c.lead.assign(xs.begin(), xs.begin() + b);
  c.g.batch = check::numel(op, "the batch axes of x", c.lead);
  x_channels = channel_last ? xs.back() : xs[b];
  Shape spatial(xs.begin() + b + (channel_last ? 0 : 1), xs.end() - (channel_last ? 1 : 0));
  c.g.kernel.assign(ws.begin() + (channel_last ? 1 : 2), ws.end() - (channel_last ? 1 : 0));
  for (int64_t k : c.g.kernel)
    if (k < 1)
      throw ValueError(detail::cat(op, ": weight of shape ", shape_str(ws), " has an empty kernel axis"));
  c.g.pad = per_axis(op, "pad", pad, n, 0, 0, ws);
  c.g.stride = per_axis(op, "stride", stride, n, 1, 1, ws);
  c.g.dilation = per_axis(op, "dilation", dilation, n, 1, 1, ws);
  c.g.group = group;
  c.g.channel_last = channel_last;
  return spatial;
}

void check_bias(const char* op, const Variable& bias, int64_t channels, const Shape& ws) {
  if (!bias.defined()) return;
  check::floating(op, "bias", bias);
  if (bias.shape() != Shape{channels})
    throw ValueError(detail::cat(op, ": bias of shape ", shape_str(bias.shape()), " does not match weight of shape ",
                                 shape_str(ws), " (expected (", channels, ",))"));
}

// Mixed float32 / float64 operands compute in float64, as affine does.
struct Promoted {
  Variable x, w, b;
  Promoted(const Variable& x0, const Variable& w0, const Variable& b0) {
    const bool f64 = x0.dtype() == DType::Float64 || w0.dtype() == DType::Float64 ||
                     (b0.defined() && b0.dtype() == DType::Float64);
    auto up = [f64](const Variable& v) {
      return !v.defined() || !f64 || v.dtype() == DType::Float64 ? v : cast(v, DType::Float64);
    };
    x = up(x0);
    w = up(w0);
    b = up(b0);
  }
};

// Output size along one axis of a convolution of `in` (ValueError when the
// dilated kernel does not fit the padded input).
int64_t conv_out_size(const char* op, const Conv& c, int64_t a, int64_t in, const Variable& x, const Shape& ws) {
  // (a kernel axis of an empty weight, or convolution_weight_grad's `kernel`, can be huge: the dilated
  // span must not overflow, so a span beyond int64 counts as larger than any input)
  int64_t span = 0;
  const bool overflow = __builtin_mul_overflow(c.g.dilation[a], c.g.kernel[a] - 1, &span) ||
                        __builtin_add_overflow(span, 1, &span);
  const int64_t room = overflow ? -1 : in + 2 * c.g.pad[a] - span;
  if (room < 0)
    throw ValueError(detail::cat(op, ": the kernel (dilated size ",
                                 overflow ? std::string("beyond 2^63") : std::to_string(span), " on spatial axis ", a,
                                 ") is larger than the padded input (", in + 2 * c.g.pad[a], ") for x of shape ",
                                 shape_str(x.shape()), " and weight of shape ", shape_str(ws),
                                 " with pad ", vec_str(c.g.pad), " and dilation ", vec_str(c.g.dilation)));
  return room / c.g.stride[a] + 1;
}

// The convolution of (x, weight) as the convolution op sees it.
Conv convolution_geometry(const char* op, const Variable& x, const Shape& ws, const Variable& bias,
                          int64_t base_axis, const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                          const std::vector<int64_t>& dilation, int64_t group, bool channel_last) {
  Conv c;
  int64_t channels = 0;
  const Shape spatial =
      check_layout(op, x, ws, base_axis, pad, stride, dilation, group, channel_last, c, channels);
  const int64_t out_channels = ws[0], per_group = channel_last ? ws.back() : ws[1];
  if (channels % group != 0)
    throw ValueError(detail::cat(op, ": x of shape ", shape_str(x.shape()), " has ", channels,
                                 " channels, which group=", group, " does not divide"));
  if (per_group != channels / group)  // (not per_group * group: that can overflow for a huge group and C = 0)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(ws), " expects ", per_group,
                                 " input channels per group (group=", group, "), but x of shape ",
                                 shape_str(x.shape()), " has ", channels, " (", channels / group, " per group)"));
  if (out_channels % group != 0)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(ws), " has ", out_channels,
                                 " output channels, which group=", group, " does not divide"));
  check_bias(op, bias, out_channels, ws);
  c.g.channels = channels;
  c.g.out_channels = out_channels;
  c.g.in_size = spatial;
  for (int64_t a = 0; a < c.n(); ++a) c.g.out_size.push_back(conv_out_size(op, c, a, spatial[a], x, ws));
  check::numel(op, "the output shape", c.y_shape());
  return c;
}

// The convolution that deconvolution(x, weight) is the adjoint of.
// output_padding may reach max(stride, dilation) - 1, as torch's: an entry op >= stride on an axis is the
// adjoint of a convolution over x zero-padded at the end by x_pad_end = op / stride entries on that axis,
// with output padding op % stride (the extra x entries are zeros, so they add nothing but output size).
Conv deconvolution_geometry(const char* op, const Variable& x, const Shape& ws, const Variable& bias,
                            int64_t base_axis, const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                            const std::vector<int64_t>& dilation, int64_t group, bool channel_last,
                            const std::vector<int64_t>& output_padding, std::vector<int64_t>& x_pad_end) {
  Conv c;
  int64_t channels = 0;
  const Shape spatial =
      check_layout(op, x, ws, base_axis, pad, stride, dilation, group, channel_last, c, channels);
  const int64_t per_group = channel_last ? ws.back() : ws[1];
  if (ws[0] != channels)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(ws), " expects ", ws[0],
                                 " input channels, but x of shape ", shape_str(x.shape()), " has ", channels));
  if (channels % group != 0)
    throw ValueError(detail::cat(op, ": x of shape ", shape_str(x.shape()), " has ", channels,
                                 " channels, which group=", group, " does not divide"));
  const int64_t out_channels = checked_mul(per_group, group, op, ws);
  check_bias(op, bias, out_channels, ws);
  const std::vector<int64_t> op_pad = per_axis(op, "output_padding", output_padding, c.n(), 0, 0, ws);
  for (int64_t a = 0; a < c.n(); ++a)
    if (op_pad[a] >= std::max(c.g.stride[a], c.g.dilation[a]))
      throw ValueError(detail::cat(op, ": output_padding ", vec_str(op_pad), " must be smaller than stride ",
                                   vec_str(c.g.stride), " or dilation ", vec_str(c.g.dilation),
                                   " on every axis (x of shape ", shape_str(x.shape()), ")"));
  c.g.channels = out_channels;  // the adjoint convolution maps the output back to x
  c.g.out_channels = channels;
  x_pad_end.assign(c.n(), 0);
  Shape padded = spatial;  // x's spatial sizes after the zero entries of op >= stride
  for (int64_t a = 0; a < c.n(); ++a) {
    if (spatial[a] > 0) x_pad_end[a] = op_pad[a] / c.g.stride[a];
    padded[a] += x_pad_end[a];
  }
  c.g.out_size = padded;
  for (int64_t a = 0; a < c.n(); ++a) {
    const int64_t op_rest = op_pad[a] - x_pad_end[a] * c.g.stride[a];  // < stride
    // s(L-1) and d(k-1) can overflow for an empty x or weight with a huge axis
    int64_t strided = 0, span = 0, out = 0;
    if (__builtin_mul_overflow(c.g.stride[a], padded[a] - 1, &strided) ||
        __builtin_mul_overflow(c.g.dilation[a], c.g.kernel[a] - 1, &span) ||
        __builtin_add_overflow(strided, span, &out) || __builtin_add_overflow(out, 1 + op_rest - 2 * c.g.pad[a], &out))
      throw ValueError(detail::cat(op, ": x of shape ", shape_str(x.shape()), " and weight of shape ", shape_str(ws),
                                   " with stride ", vec_str(c.g.stride), " and dilation ", vec_str(c.g.dilation),
                                   " give an output size beyond 2^63 on spatial axis ", a));
    // the padding must leave an output from which the convolution gets x's size back
    const int64_t room = strided + op_rest;  // = out + 2p - d(k-1) - 1 (no overflow: op_rest < stride)
    const int64_t floor_div = room >= 0 ? room / c.g.stride[a] : -((-room + c.g.stride[a] - 1) / c.g.stride[a]);
    if (out < (padded[a] > 0 ? 1 : 0) || floor_div + 1 != padded[a])
      throw ValueError(detail::cat(op, ": x of shape ", shape_str(x.shape()), " and weight of shape ", shape_str(ws),
                                   " with pad ", vec_str(c.g.pad), ", stride ", vec_str(c.g.stride),
                                   " and output_padding ", vec_str(op_pad), " give no valid output (size ", out,
                                   " on spatial axis ", a, "; the pad is too large)"));
    c.g.in_size.push_back(out);
  }
  check::numel(op, "the output shape", c.x_shape());
  return c;
}

}  // namespace

Variable convolution(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis,
                     const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                     const std::vector<int64_t>& dilation, int64_t group, bool channel_last) {
  check::floating("convolution", "x", x);
  check::floating("convolution", "weight", weight);
  const Conv c = convolution_geometry("convolution", x, weight.shape(), bias, base_axis, pad, stride, dilation, group,
                                      channel_last);
  const Promoted p(x, weight, bias);
  return conv_op(p.x, p.w, p.b, c);
}

Variable deconvolution(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis,
                       const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                       const std::vector<int64_t>& dilation, int64_t group, bool channel_last,
                       const std::vector<int64_t>& output_padding) {
  check::floating("deconvolution", "x", x);
  check::floating("deconvolution", "weight", weight);
  std::vector<int64_t> x_pad_end;
  const Conv c = deconvolution_geometry("deconvolution", x, weight.shape(), bias, base_axis, pad, stride, dilation,
                                        group, channel_last, output_padding, x_pad_end);
  const Promoted p(x, weight, bias);
  if (std::all_of(x_pad_end.begin(), x_pad_end.end(), [](int64_t e) { return e == 0; }))
    return deconv_op(p.x, p.w, p.b, c);
  std::vector<int64_t> widths;  // pad's (before, after) pairs for the last axes: the spatial ones, then C
  for (int64_t e : x_pad_end) widths.insert(widths.end(), {0, e});
  if (channel_last) widths.insert(widths.end(), {0, 0});
  return deconv_op(nthgrad::pad(p.x, widths), p.w, p.b, c);
}

Variable convolution_weight_grad(const Variable& x, const Variable& gy, const std::vector<int64_t>& kernel,
                                 int64_t base_axis, const std::vector<int64_t>& pad,
                                 const std::vector<int64_t>& stride, const std::vector<int64_t>& dilation,
                                 int64_t group, bool channel_last) {
  const char* op = "convolution_weight_grad";
  check::floating(op, "x", x);
  check::floating(op, "gy", gy);
  if (kernel.empty()) throw ValueError(detail::cat(op, ": kernel must name at least one kernel size"));
  const int64_t b = base_axis < 0 ? base_axis + x.ndim() : base_axis;
  if (b < 0 || b >= x.ndim())
    throw IndexError(detail::cat(op, ": base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  const int64_t channels = channel_last ? x.shape().back() : x.shape()[b];
  const int64_t out_channels = gy.ndim() == x.ndim() ? (channel_last ? gy.shape().back() : gy.shape()[b]) : 0;
  if (group < 1 || channels % group != 0)
    throw ValueError(detail::cat(op, ": group=", group, " does not divide the ", channels,
                                 " channels of x of shape ", shape_str(x.shape())));
  // The weight this is the gradient of, to reuse convolution's checks.
  Shape ws{out_channels};
  if (!channel_last) ws.push_back(channels / group);
  ws.insert(ws.end(), kernel.begin(), kernel.end());
  if (channel_last) ws.push_back(channels / group);
  const Conv c = convolution_geometry(op, x, ws, {}, base_axis, pad, stride, dilation, group, channel_last);
  if (gy.shape() != c.y_shape())
    throw ValueError(detail::cat(op, ": gy of shape ", shape_str(gy.shape()), " does not match the output ",
                                 shape_str(c.y_shape()), " of the convolution of x of shape ", shape_str(x.shape()),
                                 " with kernel ", vec_str(kernel)));
  const Promoted p(x, gy, {});  // gy promotes in the weight's slot
  return weight_grad_op(p.x, p.w, c);
}

namespace {

// The checks both depthwise ops share; returns the channel count of x (at base_axis).
int64_t depthwise_channels(const char* op, const Variable& x, const Variable& weight, int64_t base_axis,
                           const char* factor_name, int64_t factor) {
  check::floating(op, "x", x);
  check::floating(op, "weight", weight);
  if (factor < 1) throw ValueError(detail::cat(op, ": ", factor_name, " must be >= 1, got ", factor));
  if (weight.ndim() < 2)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(weight.shape()),
                                 " must have rank >= 2 (channels and one or more kernel axes)"));
  const int64_t b = base_axis < 0 ? base_axis + x.ndim() : base_axis;
  if (b < 0 || b >= x.ndim())
    throw IndexError(detail::cat(op, ": base_axis ", base_axis, " is out of range for x of shape ",
                                 shape_str(x.shape())));
  return x.shape()[b];
}

}  // namespace

// depthwise_convolution = convolution with group = C and weight (C*m, 1, K...)
Variable depthwise_convolution(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis,
                               const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                               const std::vector<int64_t>& dilation, int64_t multiplier) {
  const char* op = "depthwise_convolution";
  const int64_t channels = depthwise_channels(op, x, weight, base_axis, "multiplier", multiplier);
  int64_t filters = 0;
  if (__builtin_mul_overflow(channels, multiplier, &filters))
    throw ValueError(detail::cat(op, ": multiplier=", multiplier, " is too large for x of shape ",
                                 shape_str(x.shape())));
  if (weight.shape()[0] != filters)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(weight.shape()), " must have ",
                                 filters, " filters (channels of x of shape ", shape_str(x.shape()),
                                 " times multiplier=", multiplier, ")"));
  // weight (C*m, 1, K...) with group C; no channels: (0, 0, K...) with group 1 (there is no group 0)
  Shape ws = weight.shape();
  ws.insert(ws.begin() + 1, channels > 0 ? 1 : 0);
  return convolution(x, reshape(weight, ws), bias, base_axis, pad, stride, dilation, std::max<int64_t>(1, channels),
                     false);
}

// depthwise_deconvolution = deconvolution with group = C/divisor and weight (C, 1, K...)
Variable depthwise_deconvolution(const Variable& x, const Variable& weight, const Variable& bias, int64_t base_axis,
                                 const std::vector<int64_t>& pad, const std::vector<int64_t>& stride,
                                 const std::vector<int64_t>& dilation, int64_t divisor) {
  const char* op = "depthwise_deconvolution";
  const int64_t channels = depthwise_channels(op, x, weight, base_axis, "divisor", divisor);
  if (channels % divisor != 0)
    throw ValueError(detail::cat(op, ": divisor=", divisor, " does not divide the ", channels,
                                 " channels of x of shape ", shape_str(x.shape())));
  if (weight.shape()[0] != channels)
    throw ValueError(detail::cat(op, ": weight of shape ", shape_str(weight.shape()), " must have ", channels,
                                 " filters (the channels of x of shape ", shape_str(x.shape()), ")"));
  // weight (C, 1, K...) with group C/d; no channels: (0, 0, K...) with group 1, so that C/d = 0 channels come out
  Shape ws = weight.shape();
  ws.insert(ws.begin() + 1, channels > 0 ? 1 : 0);
  return deconvolution(x, reshape(weight, ws), bias, base_axis, pad, stride, dilation,
                       std::max<int64_t>(1, channels / divisor), false, {});
}

}  // namespace nthgrad
