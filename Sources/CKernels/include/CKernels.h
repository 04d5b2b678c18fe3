// Element-wise kernels of the engine's convolution path, built twice (baseline x86-64 and AVX2) and
// chosen once at run time: Swift builds the package for baseline x86-64, where its SIMD8<Float> is
// two SSE operations.
#ifndef ORCH_CKERNELS_H
#define ORCH_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Which variant the dispatching entry points use: 0 plain, 1 AVX2 (the CPU has it and
/// ORCH_KERNELS is not "plain").
int orch_kernels_variant(void);

/// ReLU in place on a tiled max pool's input and the pool of it in one pass (Engine's
/// `reluMaxPool2dForward`). `x` holds samples [lo, hi); `y` and `argmax` are the whole batch's.
/// `variant`: -1 the dispatched one, 0 plain, 1 AVX2 (only if `orch_kernels_variant()` is 1).
void orch_relu_max_pool_forward(
  int variant, float *y, int32_t *argmax, float *x, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
  ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t lo, ptrdiff_t hi);

/// A tiled max pool's backward (Engine's `maxPool2dBackwardTiled`); `relu_output` may be NULL.
void orch_max_pool_backward_tiled(
  int variant, float *dx, const float *dy, const int32_t *argmax, const float *relu_output,
  ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t lo,
  ptrdiff_t hi);

#endif
