// Each kernel's body is written once (GCC vector extensions, eight lanes) and instantiated twice:
// for baseline x86-64 and with target("avx2"). Same operations in the same order per element in
// both, and as the Swift code they replace: comparisons and selects only, no arithmetic on values,
// so the variants agree bit for bit (NaN, ±0 included).
#pragma STDC FP_CONTRACT OFF

#include "CKernels.h"

#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

INLINE v8f load8f(const float *p) {
  v8f v;
  memcpy(&v, p, sizeof v);
  return v;
}
INLINE v8i load8i(const int32_t *p) {
  v8i v;
  memcpy(&v, p, sizeof v);
  return v;
}
INLINE void store8f(float *p, v8f v) { memcpy(p, &v, sizeof v); }
INLINE void store8i(int32_t *p, v8i v) { memcpy(p, &v, sizeof v); }
// m ? a : b, lane by lane (m all ones or all zeros).
INLINE v8f self(v8i m, v8f a, v8f b) { return (v8f)((m & (v8i)a) | (~m & (v8i)b)); }
INLINE v8i seli(v8i m, v8i a, v8i b) { return (m & a) | (~m & b); }
// Swift's max(x, 0): `0 >= x ? 0 : x` (NaN stays, -0 becomes +0).
INLINE float relu1(float v) { return 0.0f >= v ? 0.0f : v; }

INLINE v8f rectified8(float *p) {
  v8f v = load8f(p);
  v8f zero = {0};
  v = self(zero >= v, zero, v);
  store8f(p, v);
  return v;
}

INLINE void relu_max_pool_forward_body(
  float *y, int32_t *argmax, float *x, ptrdiff_t c, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t kh,
  ptrdiff_t kw, ptrdiff_t lo, ptrdiff_t hi) {
  const v8i lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  ptrdiff_t out_h = (in_h - kh) / kh + 1, out_w = (in_w - kw) / kw + 1;
  ptrdiff_t row_stride = in_w * c, input_size = in_h * in_w * c, output_size = out_h * out_w * c;
  ptrdiff_t out = lo * output_size;
  for (ptrdiff_t b = lo; b < hi; b++) {
    ptrdiff_t base = (b - lo) * input_size;
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
      for (ptrdiff_t ox = 0; ox < out_w; ox++) {
        ptrdiff_t first = base + oy * kh * row_stride + ox * kw * c;
        ptrdiff_t ch = 0;
        for (; ch + 8 <= c; ch += 8) {
          v8f best = rectified8(x + first + ch);
          v8i arg = (v8i){0} + (int32_t)(uint32_t)(size_t)(first + ch) + lanes;
          for (ptrdiff_t ky = 0; ky < kh; ky++) {
            for (ptrdiff_t kx = 0; kx < kw; kx++) {
              if (ky == 0 && kx == 0) continue;
              ptrdiff_t idx = first + ky * row_stride + kx * c + ch;
              v8f v = rectified8(x + idx);
              v8i better = v > best;
              best = self(better, v, best);
              arg = seli(better, (v8i){0} + (int32_t)(uint32_t)(size_t)idx + lanes, arg);
            }
          }
          store8f(y + out + ch, best);
          store8i(argmax + out + ch, arg);
        }
        for (; ch < c; ch++) {
          x[first + ch] = relu1(x[first + ch]);
          float best = x[first + ch];
          ptrdiff_t arg = first + ch;
          for (ptrdiff_t ky = 0; ky < kh; ky++) {
            for (ptrdiff_t kx = 0; kx < kw; kx++) {
              if (ky == 0 && kx == 0) continue;
              ptrdiff_t idx = first + ky * row_stride + kx * c + ch;
              x[idx] = relu1(x[idx]);
              if (x[idx] > best) {
                best = x[idx];
                arg = idx;
              }
            }
          }
          y[out + ch] = best;
          argmax[out + ch] = (int32_t)(uint32_t)(size_t)arg;
        }
        out += c;
      }
    }
    // Rows below and columns right of the last window.
    ptrdiff_t covered_h = out_h * kh, covered_w = out_w * kw;
    for (ptrdiff_t row = 0; row < in_h; row++) {
      ptrdiff_t from = row >= covered_h ? 0 : covered_w;
      float *p = x + base + row * row_stride + from * c;
      ptrdiff_t n = (in_w - from) * c;
      for (ptrdiff_t i = 0; i < n; i++) p[i] = relu1(p[i]);
    }
  }
}

INLINE void max_pool_backward_tiled_body(
  float *dx, const float *dy, const int32_t *argmax, const float *relu_output, ptrdiff_t c,
  ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t lo, ptrdiff_t hi) {
  const v8i lanes = {0, 1, 2, 3, 4, 5, 6, 7};
  ptrdiff_t out_h = (in_h - kh) / kh + 1, out_w = (in_w - kw) / kw + 1;
  ptrdiff_t input_size = in_h * in_w * c, output_size = out_h * out_w * c;
  ptrdiff_t covered_h = out_h * kh, covered_w = out_w * kw;
  ptrdiff_t out = lo * output_size;
  for (ptrdiff_t b = lo; b < hi; b++) {
    ptrdiff_t base = (b - lo) * input_size;
    for (ptrdiff_t oy = 0; oy < out_h; oy++) {
      for (ptrdiff_t ox = 0; ox < out_w; ox++) {
        ptrdiff_t ch = 0;
        for (; ch + 8 <= c; ch += 8) {
          v8f g = load8f(dy + out + ch);
          if (relu_output) {
            v8f yv = load8f(relu_output + out + ch);
            v8f zero = {0};
            g = self(yv > zero, g, zero);
          }
          v8i arg = load8i(argmax + out + ch);
          for (ptrdiff_t ky = 0; ky < kh; ky++) {
            for (ptrdiff_t kx = 0; kx < kw; kx++) {
              ptrdiff_t idx = base + ((oy * kh + ky) * in_w + ox * kw + kx) * c + ch;
              v8i hit = arg == (v8i){0} + (int32_t)(uint32_t)(size_t)idx + lanes;
              store8f(dx + idx, (v8f)(hit & (v8i)g));
            }
          }
        }
        for (; ch < c; ch++) {
          ptrdiff_t winner = argmax[out + ch];
          float g = (relu_output == NULL || relu_output[out + ch] > 0) ? dy[out + ch] : 0.0f;
          for (ptrdiff_t ky = 0; ky < kh; ky++) {
            for (ptrdiff_t kx = 0; kx < kw; kx++) {
              ptrdiff_t idx = base + ((oy * kh + ky) * in_w + ox * kw + kx) * c + ch;
              dx[idx] = idx == winner ? g : 0.0f;
            }
          }
        }
        out += c;
      }
    }
    for (ptrdiff_t y = 0; y < in_h; y++) {
      if (y >= covered_h) {
        memset(dx + base + y * in_w * c, 0, sizeof(float) * (size_t)(in_w * c));
      } else if (covered_w < in_w) {
        memset(dx + base + (y * in_w + covered_w) * c, 0, sizeof(float) * (size_t)((in_w - covered_w) * c));
      }
    }
  }
}

#define VARIANTS(name, params, args)                                                    \
  static void name##_plain params { name##_body args; }                                 \
  __attribute__((target("avx2"))) static void name##_avx2 params { name##_body args; }

VARIANTS(
  relu_max_pool_forward,
  (float *y, int32_t *argmax, float *x, ptrdiff_t c, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t kh,
   ptrdiff_t kw, ptrdiff_t lo, ptrdiff_t hi),
  (y, argmax, x, c, in_h, in_w, kh, kw, lo, hi))

VARIANTS(
  max_pool_backward_tiled,
  (float *dx, const float *dy, const int32_t *argmax, const float *relu_output, ptrdiff_t c,
   ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t kh, ptrdiff_t kw, ptrdiff_t lo, ptrdiff_t hi),
  (dx, dy, argmax, relu_output, c, in_h, in_w, kh, kw, lo, hi))

static int detect_variant(void) {
#if defined(__x86_64__) || defined(__i386__)
  const char *forced = getenv("ORCH_KERNELS");
  if (forced && strcmp(forced, "plain") == 0) return 0;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") ? 1 : 0;
#else
  return 0;
#endif
}

// Racing first calls both store the same value.
static volatile int chosen = -1;

int orch_kernels_variant(void) {
  int v = chosen;
  if (v < 0) {
    v = detect_variant();
    chosen = v;
  }
  return v;
}

static int pick(int variant) {
  if (variant < 0) return orch_kernels_variant();
  return variant == 1 && orch_kernels_variant() == 1 ? 1 : 0;
}

void orch_relu_max_pool_forward(
  int variant, float *y, int32_t *argmax, float *x, ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w,
  ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t lo, ptrdiff_t hi) {
  if (pick(variant))
    relu_max_pool_forward_avx2(y, argmax, x, channels, in_h, in_w, k_h, k_w, lo, hi);
  else
    relu_max_pool_forward_plain(y, argmax, x, channels, in_h, in_w, k_h, k_w, lo, hi);
}

void orch_max_pool_backward_tiled(
  int variant, float *dx, const float *dy, const int32_t *argmax, const float *relu_output,
  ptrdiff_t channels, ptrdiff_t in_h, ptrdiff_t in_w, ptrdiff_t k_h, ptrdiff_t k_w, ptrdiff_t lo,
  ptrdiff_t hi) {
  if (pick(variant))
    max_pool_backward_tiled_avx2(dx, dy, argmax, relu_output, channels, in_h, in_w, k_h, k_w, lo, hi);
  else
    max_pool_backward_tiled_plain(dx, dy, argmax, relu_output, channels, in_h, in_w, k_h, k_w, lo, hi);
}
