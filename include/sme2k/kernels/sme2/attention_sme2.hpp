// Fused attention on SME2 (prefill and any q_len): O = softmax(scale Q K^T + mask) V, flash
// style, the score matrix never leaving the chip beyond one block of 4 VL keys x VL queries.
//
// Per unit (batch item, KV head, VL query rows) and query head of the group:
//   A. S^T = K Q^T for 4 VL keys into the four ZA tiles (widening FMOPA for f16, FMOPA for
//      f32; four tiles keep the M4 model's outer products at their rate), the additive mask
//      preloaded as the tiles' start (its vertical-slice loads transpose it for free); the
//      block leaves ZA for an L1 scratch by slice stores (loads and stores only).
//   B. Per query lane: the block's maximum; the running maximum m moves only when the block
//      exceeds it by more than 2^8 in the exp domain (lazy rescaling: O and the running sum
//      are rescaled rarely, exponentials up to 2^8 are fine in f32).
//   C. P = 2^(scale log2(e) (S - m)) (epilogue/sme2_exp2.hpp, degree 3: its 7.5e-5 relative
//      error is below f16's rounding of the output), summed per lane in ZA, stored to scratch.
//   D. O^T += V^T P^T for the block: f32 outer products into up to four d tiles at a time,
//      O^T kept in scratch between blocks (slice loads and stores).
// Causal and window masks skip whole key blocks outside every row's range and mask the edge
// vectors by predicate (-1e30, which exp2 turns into < 2^-125); -inf bias is clamped to
// -1e30 too, and a query whose every score is at that floor gets zeros.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "sme2k/arch/acle.hpp"
#include "sme2k/arch/attributes.hpp"
#include "sme2k/arch/cost_model.hpp"
#include "sme2k/arch/dispatch.hpp"
#include "sme2k/arch/vl.hpp"
#include "sme2k/epilogue/sme2_exp2.hpp"
#include "sme2k/kernels/sme2/attention_pack_sme2.hpp"
#include "sme2k/ops/detail/attention_call.hpp"
#include "sme2k/types/attention.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/size_math.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>
#endif

namespace sme2k {

/// Where a task's scratch lies (floats / words from the workspace start), for VL lanes.
struct AttentionSme2Layout {
  size_t k_panel = 0, v_panel = 0, q_panel = 0, scores = 0, probs = 0, out_t = 0, bias = 0;
  size_t total = 0;  // 4-byte elements

  static bool make(const AttentionShape& s, size_t vl, bool f16_in, bool has_bias,
                   AttentionSme2Layout* l) {
    const size_t words = f16_in ? (s.head_dim + 1) / 2 : s.head_dim;
    const size_t tiles = (s.kv_len + 4 * vl - 1) / (4 * vl) * 4;
    const size_t d_pad = (s.head_dim + vl - 1) / vl * vl;
    size_t k = 0, v = 0, at = 0;
    if (!checked_mul(tiles, words * vl, &k)) return false;
    if (f16_in && !checked_mul(s.kv_len, d_pad, &v)) return false;
    const auto take = [&](size_t n, size_t* where) {
      *where = at;
      n = (n + 15) / 16 * 16;  // each on its own cache lines
      return checked_add(at, n, &at);
    };
    return take(k, &l->k_panel) && take(v, &l->v_panel) && take(words * vl, &l->q_panel) &&
           take(4 * vl * vl, &l->scores) && take(4 * vl * vl, &l->probs) &&
           take(d_pad * vl, &l->out_t) && take(has_bias ? 4 * vl * vl : 0, &l->bias) &&
           (l->total = at, true);
  }
};

#if SME2K_HAS_SME2_CODE
namespace sme2 {

constexpr float kAttentionFloor = -1e30f;  // a masked score
constexpr float kLazyRescale = 8.0f;       // exp2 domain: rescale when the max grows by more

/// S^T tiles += K Q^T over `words` words: tile t holds keys [t VL, (t+1) VL) of k_block.
template <class In>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void scores_t(const uint32_t* k_block, const uint32_t* q,
                                                    size_t words) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntw();
  if constexpr (sizeof(In) == 2) {
    const svbool_t all = svptrue_b16();
    for (size_t w = 0; w < words; ++w) {
      const svfloat16_t zq = svreinterpret_f16(svld1_u32(svptrue_b32(), q + w * vl));
      const uint32_t* kw = k_block + w * vl;
      const size_t tile = words * vl;
      svmopa_za32_f16_m(0, all, all, svreinterpret_f16(svld1_u32(svptrue_b32(), kw)), zq);
      svmopa_za32_f16_m(1, all, all, svreinterpret_f16(svld1_u32(svptrue_b32(), kw + tile)), zq);
      svmopa_za32_f16_m(2, all, all, svreinterpret_f16(svld1_u32(svptrue_b32(), kw + 2 * tile)),
                        zq);
      svmopa_za32_f16_m(3, all, all, svreinterpret_f16(svld1_u32(svptrue_b32(), kw + 3 * tile)),
                        zq);
    }
  } else {
    const svbool_t all = svptrue_b32();
    for (size_t w = 0; w < words; ++w) {
      const svfloat32_t zq = svreinterpret_f32(svld1_u32(all, q + w * vl));
      const uint32_t* kw = k_block + w * vl;
      const size_t tile = words * vl;
      svmopa_za32_f32_m(0, all, all, svreinterpret_f32(svld1_u32(all, kw)), zq);
      svmopa_za32_f32_m(1, all, all, svreinterpret_f32(svld1_u32(all, kw + tile)), zq);
      svmopa_za32_f32_m(2, all, all, svreinterpret_f32(svld1_u32(all, kw + 2 * tile)), zq);
      svmopa_za32_f32_m(3, all, all, svreinterpret_f32(svld1_u32(all, kw + 3 * tile)), zq);
    }
  }
}

/// Slice i of ZA tile t (a compile-time tile, as the instructions need) to/from memory.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void store_tile_slices(float* out, size_t vl)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  for (size_t i = 0; i < vl; ++i) {
    const uint32_t s = za_slice(static_cast<uint32_t>(i));
    svst1_hor_za32(0, s, all, out + i * vl);
    svst1_hor_za32(1, s, all, out + (vl + i) * vl);
    svst1_hor_za32(2, s, all, out + (2 * vl + i) * vl);
    svst1_hor_za32(3, s, all, out + (3 * vl + i) * vl);
  }
}

/// O^T tiles [0, n) from / to scratch (n <= 4 d tiles of VL rows).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void out_tiles(float* ot, size_t n, size_t vl,
                                                     bool load) SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  for (size_t i = 0; i < vl; ++i) {
    const uint32_t s = za_slice(static_cast<uint32_t>(i));
    if (load) {
      svld1_hor_za32(0, s, all, ot + i * vl);
      if (n > 1) svld1_hor_za32(1, s, all, ot + (vl + i) * vl);
      if (n > 2) svld1_hor_za32(2, s, all, ot + (2 * vl + i) * vl);
      if (n > 3) svld1_hor_za32(3, s, all, ot + (3 * vl + i) * vl);
    } else {
      svst1_hor_za32(0, s, all, ot + i * vl);
      if (n > 1) svst1_hor_za32(1, s, all, ot + (vl + i) * vl);
      if (n > 2) svst1_hor_za32(2, s, all, ot + (2 * vl + i) * vl);
      if (n > 3) svst1_hor_za32(3, s, all, ot + (3 * vl + i) * vl);
    }
  }
}

/// Lanes [lo, hi) of a VL-lane vector (clipped to [0, VL)).
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svbool_t lane_range(ptrdiff_t lo,
                                                          ptrdiff_t hi) SME2K_STREAMING {
  const ptrdiff_t vl = static_cast<ptrdiff_t>(svcntw());
  lo = lo < 0 ? 0 : (lo > vl ? vl : lo);
  hi = hi < 0 ? 0 : (hi > vl ? vl : hi);
  return svbic_b_z(svptrue_b32(), svwhilelt_b32_s64(0, hi), svwhilelt_b32_s64(0, lo));
}

/// Lanes i of query rows whose visible keys include key j: [lo, hi), from the causal and
/// window rules (positions p0 + i); the full lane range when neither applies.
SME2K_ALWAYS_INLINE void visible_lanes(const AttentionMask& mask, ptrdiff_t p0, ptrdiff_t j,
                                       ptrdiff_t* lo, ptrdiff_t* hi) SME2K_STREAMING_COMPATIBLE {
  const ptrdiff_t w = static_cast<ptrdiff_t>(mask.window);
  *lo = PTRDIFF_MIN / 2;
  *hi = PTRDIFF_MAX / 2;
  if (mask.causal) {
    *lo = j - p0;  // j <= p0 + i
  } else if (w > 0) {
    *lo = j - p0 - w + 1;  // j < p0 + i + w
  }
  if (w > 0) *hi = j - p0 + w;  // j >= p0 + i + 1 - w
}

/// Probabilities e of key kb + jl (scores x) with its masked lanes set to 0.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32_t masked_to_zero(const AttentionMask& mask,
                                                                 ptrdiff_t p0, size_t kb, size_t jl,
                                                                 size_t nk, svfloat32_t x,
                                                                 svfloat32_t e,
                                                                 svfloat32_t zero) SME2K_STREAMING {
  if (jl >= nk) return zero;
  ptrdiff_t lo = 0, hi = 0;
  visible_lanes(mask, p0, static_cast<ptrdiff_t>(kb + jl), &lo, &hi);
  if (lo > 0 || hi < static_cast<ptrdiff_t>(svcntw())) e = svsel_f32(lane_range(lo, hi), e, zero);
  if (mask.bias != nullptr) {
    e = svsel_f32(svcmpgt_n_f32(svptrue_b32(), x, kAttentionFloor * 0.5f), e, zero);
  }
  return e;
}

/// All units [first, last) of a call: one streaming session (the op's task).
template <bool kZa, class In, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void attention_units_sme2(
    const ::sme2k::detail::AttentionCall<In, Out>& c, const ::sme2k::detail::AttentionUnits& units,
    size_t first, size_t last, const AttentionSme2Layout& lay, void* workspace) {
  constexpr float kLog2e = 1.44269504088896341f;
  const size_t vl = svcntw(), d = c.shape.head_dim, kv = c.shape.kv_len;
  const size_t words = attention_words<In>(d), d_pad = (d + vl - 1) / vl * vl;
  const size_t d_tiles = d_pad / vl;
  auto* base = static_cast<float*>(workspace);
  auto* kp = reinterpret_cast<uint32_t*>(base + lay.k_panel);
  auto* qp = reinterpret_cast<uint32_t*>(base + lay.q_panel);
  float* vp = base + lay.v_panel;
  float* sc = base + lay.scores;
  float* pr = base + lay.probs;
  float* ot = base + lay.out_t;
  float* bs = base + lay.bias;
  const float cexp = c.scale * kLog2e;
  const svfloat32_t cexp_v = opaque(svdup_f32(cexp));
  // V's columns: f16 V is packed to d_pad (zeros past d); f32 V is read where it lies.
  const size_t d_pad_v = sizeof(In) == 2 ? d_pad : d;
  const svbool_t all = svptrue_b32();
  const svfloat32x4_t ones = ones_x4();
  const svfloat32x4_t c_lo = exp2_coefs_low<3>();
  const svfloat32x2_t c_hi = exp2_coefs_high<3>();
  const Exp2Shift shift = exp2_shift();
  const svuint32_t ebias = exp2_bias();
  const svfloat32_t floor_v = opaque(svdup_f32(kAttentionFloor));
  const svfloat32_t zero = opaque(svdup_f32(0.0f));
  const uint32_t gy = za_slice(0), gsum = za_slice(0) + 3;
  const size_t key_tiles = (kv + 4 * vl - 1) / (4 * vl) * 4;
  size_t packed = SIZE_MAX;
  for (size_t u = first; u < last; ++u) {
    const ::sme2k::detail::AttentionUnit unit = units[u];
    const size_t b = unit.batch, g = unit.kv_head;
    if (packed != b * c.shape.kv_heads + g) {
      packed = b * c.shape.kv_heads + g;
      for (size_t kt = 0; kt < key_tiles; ++kt) {
        const size_t j0 = kt * vl, rows = j0 < kv ? (kv - j0 < vl ? kv - j0 : vl) : 0;
        pack_word_panel<In>(kp + kt * words * vl, rows, d,
                            [&](size_t i)
                                SME2K_STREAMING_COMPATIBLE { return c.k_row(b, g, j0 + i); });
      }
      if constexpr (sizeof(In) == 2) pack_v_f32(vp, kv, d, d_pad, c.v_row(b, g, 0), c.v.seq_stride);
    }
    const size_t r0 = unit.row_begin, rows = unit.row_end - unit.row_begin;
    const ptrdiff_t p0 = static_cast<ptrdiff_t>(c.position(r0));
    size_t k_lo = kv, k_hi = 0;
    for (size_t i = 0; i < rows; ++i) {
      size_t f = 0, l = 0;
      c.visible_keys(r0 + i, &f, &l);
      if (f < l) {
        k_lo = f < k_lo ? f : k_lo;
        k_hi = l > k_hi ? l : k_hi;
      }
    }
    const svbool_t live = svwhilelt_b32_u64(0, rows);
    for (size_t h = g * c.group(); h < (g + 1) * c.group(); ++h) {
      pack_word_panel<In>(
          qp, rows, d, [&](size_t i) SME2K_STREAMING_COMPATIBLE { return c.q_row(b, h, r0 + i); });
      for (size_t i = 0; i < d_pad * vl; i += vl) svst1_f32(all, ot + i, zero);
      svfloat32_t m = svdup_f32(kAttentionFloor), l = zero;
      bool started = false;
      for (size_t kb = k_lo / (4 * vl) * (4 * vl); kb < k_hi; kb += 4 * vl) {
        const size_t nk = kv - kb < 4 * vl ? kv - kb : 4 * vl;
        // A. S^T for keys [kb, kb + 4 VL), the bias (over scale, floored) as the start.
        if (c.mask.bias != nullptr) {
          const svfloat32_t inv_scale = svdup_f32(1.0f / c.scale);
          for (size_t i = 0; i < vl; ++i) {
            const float* brow = i < rows ? c.bias_row(b, h, r0 + i) + kb : nullptr;
            for (size_t t = 0; t < 4 * vl; t += vl) {
              svfloat32_t x = zero;
              if (brow != nullptr) {
                x = svmul_f32_x(all, svld1_f32(svwhilelt_b32_u64(t, nk), brow + t), inv_scale);
                x = svmin_n_f32_x(all, svmax_f32_x(all, x, floor_v), -kAttentionFloor);
              }
              svst1_f32(all, bs + i * 4 * vl + t, x);
            }
          }
          for (size_t i = 0; i < vl; ++i) {
            const uint32_t s = za_slice(static_cast<uint32_t>(i));
            svld1_ver_za32(0, s, all, bs + i * 4 * vl);
            svld1_ver_za32(1, s, all, bs + i * 4 * vl + vl);
            svld1_ver_za32(2, s, all, bs + i * 4 * vl + 2 * vl);
            svld1_ver_za32(3, s, all, bs + i * 4 * vl + 3 * vl);
          }
        } else {
          svzero_za();
        }
        scores_t<In>(kp + kb / vl * words * vl, qp, words);
        store_tile_slices(sc, vl);
        // B. Masks by predicate on the edge vectors, the block maximum per query lane.
        // Four key vectors a step (one four-vector FMAX); edge and tail vectors one by one.
        svfloat32x4_t mb4 = svcreate4(floor_v, floor_v, floor_v, floor_v);
        uint64_t masked_groups = 0;  // bit jl / 4: a vector of the group has masked lanes
        for (size_t jl = 0; jl < nk; jl += 4) {
          bool plain = jl + 4 <= nk;
          for (size_t v = 0; v < 4 && plain; ++v) {
            ptrdiff_t lo = 0, hi = 0;
            visible_lanes(c.mask, p0, static_cast<ptrdiff_t>(kb + jl + v), &lo, &hi);
            plain = lo <= 0 && hi >= static_cast<ptrdiff_t>(vl);
          }
          if (!plain) {
            masked_groups |= uint64_t{1} << (jl / 4);
            for (size_t v = 0; v < 4; ++v) {
              ptrdiff_t lo = 0, hi = 0;
              visible_lanes(c.mask, p0, static_cast<ptrdiff_t>(kb + jl + v), &lo, &hi);
              if (jl + v >= nk) lo = hi = 0;  // past kv_len: no lane sees it
              if (lo > 0 || hi < static_cast<ptrdiff_t>(vl)) {
                float* at = sc + (jl + v) * vl;
                svst1_f32(all, at, svsel_f32(lane_range(lo, hi), svld1_f32(all, at), floor_v));
              }
            }
          }
          mb4 = svmax_f32_x4(mb4, svld1_f32_x4(svptrue_c32(), sc + jl * vl));
        }
        const svfloat32_t mb = svmax_f32_x(all, svmax_f32_x(all, svget4(mb4, 0), svget4(mb4, 1)),
                                           svmax_f32_x(all, svget4(mb4, 2), svget4(mb4, 3)));
        const svfloat32_t m_new = svmax_f32_x(all, m, mb);
        if (!started) {
          m = m_new;
          started = true;
        } else if (svptest_any(live,
                               svcmpgt_f32(live, mb, svadd_n_f32_x(all, m, kLazyRescale / cexp)))) {
          // alpha = 2^((m - m_new) scale log2e): O and the running sum follow the new maximum.
          const svfloat32_t yb =
              svmad_n_f32_x(all, svsub_f32_x(all, m, m_new), svdup_f32(cexp), kExp2Bias);
          const svfloat32_t alpha =
              svget4(exp2_z_x4<3>(svcreate4(yb, yb, yb, yb), c_lo, c_hi, shift, ebias), 0);
          l = svmul_f32_x(all, l, alpha);
          for (size_t i = 0; i < d_pad * vl; i += vl) {
            svst1_f32(all, ot + i, svmul_f32_x(all, svld1_f32(all, ot + i), alpha));
          }
          m = m_new;
        }
        // C. P = 2^(c (S - m)), summed per lane into ZA group 3.
        // A query with nothing but masked scores so far has m at the floor: measured from
        // -1e20 instead, its probabilities are < 2^-125 rather than 2^(rounding noise of
        // 1e30), and its output is zeros unless a later block raises m (and rescales them).
        const svfloat32_t m_exp = svmax_n_f32_x(all, m, -1e20f);
        const svfloat32_t bias_v = svmsb_n_f32_x(all, m_exp, svdup_f32(cexp), kExp2Bias);
        svzero_mask_za(za_group_zero_mask(3));
        for (size_t jl = 0; jl < nk; jl += 4) {
          const svfloat32x4_t x = svld1_f32_x4(svptrue_c32(), sc + jl * vl);
          svzero_mask_za(za_group_zero_mask(0));
          za_add_constant(gy, ones, bias_v);
          svmla_single_za32_f32_vg1x4(gy, x, cexp_v);
          const svfloat32x4_t yb = svread_za32_f32_vg1x4(gy);
          svfloat32x4_t e;
          if constexpr (kZa) {
            e = exp2_za_x4<3, 0, 1, 2>(yb, ones, c_lo, c_hi, shift, ebias);
          } else {
            e = exp2_z_x4<3>(yb, c_lo, c_hi, shift, ebias);
          }
          // Masked scores give exactly 0, not exp2's floor: keys past kv_len, lanes outside a
          // key's causal / window range (edge vectors only), -inf bias (only with a bias).
          if (c.mask.bias != nullptr || (masked_groups >> (jl / 4) & 1) != 0) {
            e = svcreate4(
                masked_to_zero(c.mask, p0, kb, jl, nk, svget4(x, 0), svget4(e, 0), zero),
                masked_to_zero(c.mask, p0, kb, jl + 1, nk, svget4(x, 1), svget4(e, 1), zero),
                masked_to_zero(c.mask, p0, kb, jl + 2, nk, svget4(x, 2), svget4(e, 2), zero),
                masked_to_zero(c.mask, p0, kb, jl + 3, nk, svget4(x, 3), svget4(e, 3), zero));
          }
          svadd_za32_f32_vg1x4(gsum, e);
          svst1_f32_x4(svptrue_c32(), pr + jl * vl, e);
        }
        const svfloat32x4_t s4 = svread_za32_f32_vg1x4(gsum);
        l = svadd_f32_x(all, l,
                        svadd_f32_x(all, svadd_f32_x(all, svget4(s4, 0), svget4(s4, 1)),
                                    svadd_f32_x(all, svget4(s4, 2), svget4(s4, 3))));
        // D. O^T += V^T P^T, four d tiles at a time.
        for (size_t t0 = 0; t0 < d_tiles; t0 += 4) {
          const size_t n = d_tiles - t0 < 4 ? d_tiles - t0 : 4;
          out_tiles(ot + t0 * vl * vl, n, vl, true);
          for (size_t jl = 0; jl < nk; ++jl) {
            const svfloat32_t zp = svld1_f32(all, pr + jl * vl);
            const auto v_at = [&](size_t t) SME2K_STREAMING_COMPATIBLE {
              const size_t c0 = (t0 + t) * vl;
              if constexpr (sizeof(In) == 2) {
                return static_cast<const float*>(vp + (kb + jl) * d_pad + c0);
              } else {
                return static_cast<const float*>(c.v_row(b, g, kb + jl) + c0);
              }
            };
            const auto v_pred = [&](size_t t) SME2K_STREAMING_COMPATIBLE { return (t0 + t) * vl; };
            svmopa_za32_f32_m(0, all, all,
                              svld1_f32(svwhilelt_b32_u64(v_pred(0), d_pad_v), v_at(0)), zp);
            if (n > 1)
              svmopa_za32_f32_m(1, all, all,
                                svld1_f32(svwhilelt_b32_u64(v_pred(1), d_pad_v), v_at(1)), zp);
            if (n > 2)
              svmopa_za32_f32_m(2, all, all,
                                svld1_f32(svwhilelt_b32_u64(v_pred(2), d_pad_v), v_at(2)), zp);
            if (n > 3)
              svmopa_za32_f32_m(3, all, all,
                                svld1_f32(svwhilelt_b32_u64(v_pred(3), d_pad_v), v_at(3)), zp);
          }
          out_tiles(ot + t0 * vl * vl, n, vl, false);
        }
      }
      // O = O^T / l, transposed out through tile 0; queries seeing nothing get zeros.
      const svbool_t seen = svcmpgt_n_f32(all, m, kAttentionFloor * 0.5f);
      const svfloat32_t inv = svsel_f32(seen, svdivr_n_f32_x(all, l, 1.0f), zero);
      // Per d tile: O^T rows s + k VL/4 (k < 4) times inv by one vector-group FMLA into
      // tile 0 (group 4s holds exactly those slices), then out by vertical slices (queries).
      const uint32_t quarter = static_cast<uint32_t>(vl / 4);
      for (size_t t = 0; t < d_tiles; ++t) {
        svzero_mask_za(za_group_zero_mask(0));
        const float* tile = ot + t * vl * vl;
        for (uint32_t q = 0; q < quarter; ++q) {
          const svfloat32x4_t rows4 =
              svcreate4(svld1_f32(all, tile + q * vl), svld1_f32(all, tile + (q + quarter) * vl),
                        svld1_f32(all, tile + (q + 2 * quarter) * vl),
                        svld1_f32(all, tile + (q + 3 * quarter) * vl));
          svmla_single_za32_f32_vg1x4(za_slice(0) + 4 * q, rows4, inv);
        }
        const svbool_t cols = svwhilelt_b32_u64(t * vl, d);
        if constexpr (sizeof(Out) == 4) {
          for (size_t i = 0; i < rows; ++i) {
            svst1_ver_za32(0, za_slice(static_cast<uint32_t>(i)), cols,
                           c.o_row(b, h, r0 + i) + t * vl);
          }
        } else {
          for (size_t i = 0; i < rows; i += 4) {  // four queries' slices, two FCVTs
            const svfloat32x4_t x = svread_ver_za32_f32_vg4(0, za_slice(static_cast<uint32_t>(i)));
            const svfloat16_t h01 = svcvt_f16_f32_x2(svcreate2(svget4(x, 0), svget4(x, 1)));
            const svfloat16_t h23 = svcvt_f16_f32_x2(svcreate2(svget4(x, 2), svget4(x, 3)));
            for (size_t k = 0; k < 4 && i + k < rows; ++k) {
              // query i + k's VL outputs: half k % 2 of h01 (k < 2) or h23.
              auto* dst = reinterpret_cast<float16_t*>(c.o_row(b, h, r0 + i + k) + t * vl);
              const svfloat16_t src = k < 2 ? h01 : h23;
              const size_t half = (k % 2) * vl;  // elements before this query's in src
              const size_t n = d - t * vl < vl ? d - t * vl : vl;
              const svbool_t lanes = svbic_b_z(svptrue_b16(), svwhilelt_b16_u64(0, half + n),
                                               svwhilelt_b16_u64(0, half));
              svst1_f16(lanes, dst - half, src);
            }
          }
        }
      }
    }
  }
}

/// The kernel type ops/attention.hpp dispatches to (ops/detail/attention_call.hpp contract).
template <class In, class Out>
struct AttentionSme2 {
  using Input = In;
  using Output = Out;
  static constexpr std::string_view kName =
      std::is_same_v<In, float>  ? "attention_f32_f32_f32_1vlx4vl_sme2_mopa"
      : std::is_same_v<Out, f16> ? "attention_f16_f16_f16_1vlx4vl_sme2_mopa"
                                 : "attention_f32_f16_f16_1vlx4vl_sme2_mopa";
  static constexpr Path kPath = Path::kSme2;
  static size_t q_step(size_t vl) { return vl; }
  static size_t kv_step(size_t vl) { return 4 * vl; }
  static bool workspace_bytes(const AttentionShape& shape, size_t vl, size_t* bytes) {
    AttentionSme2Layout lay;
    return AttentionSme2Layout::make(shape, vl, sizeof(In) == 2, true, &lay) &&
           checked_mul(lay.total, sizeof(float), bytes);
  }
  static void run(const ::sme2k::detail::AttentionCall<In, Out>& call,
                  const ::sme2k::detail::AttentionUnits& units, size_t first, size_t last,
                  void* workspace) {
    // The layout is worked out here, outside streaming mode (a call from the streaming
    // kernel to this ordinary function would toggle streaming mode around it).
    AttentionSme2Layout lay;
    AttentionSme2Layout::make(call.shape, streaming_vl(), sizeof(In) == 2, true, &lay);
    if (cost_model() == CostModel::kVectorFavoured) {
      attention_units_sme2<false>(call, units, first, last, lay, workspace);
    } else {
      attention_units_sme2<true>(call, units, first, last, lay, workspace);
    }
  }
};

}  // namespace sme2
#endif  // SME2K_HAS_SME2_CODE

}  // namespace sme2k
