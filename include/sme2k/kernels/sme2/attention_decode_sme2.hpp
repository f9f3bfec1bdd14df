// Attention decode on SME2 (F16): few query rows per KV head. The rows of one pass are the
// (query head of the group, query row) pairs of a unit, up to VL/2 of them, so K and V are
// read once per pass for the whole group (once per KV head when group x rows <= VL/2).
//
// Per pass and block of 2 VL keys (tiles 0 and 2 hold S, tiles 1 and 3 hold O):
//   A. K^T for the block through tile 0 (attention_pack_sme2.hpp), then S = Q K^T by widening
//      FMOPA: queries on the rows of tiles 0 and 2, VL keys on each tile's columns, the bias
//      (over scale, floored) written into the rows first. The rows go to an L1 scratch.
//   B. Per pair of queries, four vectors of keys: y = scale log2(e) (S - m) + 126 (in ZA on
//      the M4 profile, by FMLA on C1), the lazy running maximum of the prefill kernel (m moves
//      only when a score exceeds it by 2^8 in the exp domain, tested on y), P = 2^y
//      (epilogue/sme2_exp2.hpp, degree 3), masked keys to exactly 0, the running sums, P to f16.
//   C. P into ZA0.H (tiles 0 and 2) by vertical slices so that horizontal slice k reads, in
//      32-bit column j < VL/2, the pair (P[k][j], 0) and, in column VL/2 + j, (0, P[k][j]).
//   D. O += per key k: that slice against V row k as it lies (pairs of d): one widening FMOPA
//      per 2 VL of head_dim gives O[j][even d] in column j and O[j][odd d] in column VL/2 + j.
//      V needs no transpose and no f32 copy; P's zero halves are the price (a quarter of each
//      FMOPA is useful, the same as a 4-of-16-column S, which is all few rows can fill).
// O stays in tiles 1 and 3 for head_dim <= 4 VL, else moves through scratch per block.
// P is rounded to f16 (relative 2^-11, the error model's eps_p); exp within 7.5e-5.
//
// Cost per key at D 64, group 4, SVL 512 (tools/insn-mix terms): QK 2 FMOPA f16w per VL keys
// per word (4 cycles a key on either model), PV 2 FMOPA (4), one MOVA (1); the exp of four
// scores (M4, ZA way: ~3.5; C1, register way: ~0.8); K, V and the panels are loads/stores.
// The 8 outer-product cycles are a floor for any design on these models: 512 useful MACs a
// key (4 rows x 64 x 2) at 64 MACs a cycle, which is what a quarter-full widening FMOPA, a
// ZA FDOT / FMLAL vector group and C1's SVE FDOT all give: 2.0x the K and V load bound
// before the softmax. Measured (Hq 32, Hkv 8, Skv 4096): M4 611,556 cycles (4.67x the load
// bound), C1 375,409 (2.86x); the rest is the softmax's SVE (M4: 4 cycles an instruction).
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
#include "sme2k/kernels/sme2/attention_sme2.hpp"
#include "sme2k/ops/detail/attention_call.hpp"
#include "sme2k/types/attention.hpp"
#include "sme2k/types/f16.hpp"
#include "sme2k/types/size_math.hpp"

#if SME2K_HAS_SME2_CODE
#include <arm_sme.h>
#endif

namespace sme2k {

/// Where a task's decode scratch lies (4-byte elements from the workspace start), for VL
/// lanes: VL/2 query columns per pass, blocks of 2 VL keys, O in chunks of 2 VL of head_dim.
struct AttentionDecodeLayout {
  size_t k_panel = 0, q_panel = 0, scores = 0, probs = 0, shift = 0, sums = 0, out_t = 0;
  size_t total = 0;

  static size_t chunk_pairs(size_t d, size_t vl) { return (d + 4 * vl - 1) / (4 * vl); }

  static bool make(const AttentionShape& s, size_t vl, AttentionDecodeLayout* l) {
    const size_t words = (s.head_dim + 1) / 2, cols = vl / 2;
    size_t at = 0, ot = 0;
    if (!checked_mul(chunk_pairs(s.head_dim, vl) * 2 * vl, vl, &ot)) return false;
    const auto take = [&](size_t n, size_t* where) {
      *where = at;
      n = (n + 15) / 16 * 16;  // each on its own cache lines
      return checked_add(at, n, &at);
    };
    return take(2 * words * vl, &l->k_panel) && take(words * vl, &l->q_panel) &&
           take(cols * 2 * vl, &l->scores) && take(cols * vl, &l->probs) &&
           take(cols * 2 * vl, &l->shift) && take(cols * vl, &l->sums) && take(ot, &l->out_t) &&
           (l->total = at, true);
  }
};

#if SME2K_HAS_SME2_CODE
namespace sme2 {

/// O tiles 1 (chunk 2p) and 3 (chunk 2p + 1) from / to scratch rows of VL.
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void decode_out_tiles(float* ot, size_t vl, bool load)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svbool_t all = svptrue_b32();
  for (size_t i = 0; i < vl; ++i) {
    const uint32_t s = za_slice(static_cast<uint32_t>(i));
    if (load) {
      svld1_hor_za32(1, s, all, ot + i * vl);
      svld1_hor_za32(3, s, all, ot + (vl + i) * vl);
    } else {
      svst1_hor_za32(1, s, all, ot + i * vl);
      svst1_hor_za32(3, s, all, ot + (vl + i) * vl);
    }
  }
}

/// One output chunk (2 VL of head_dim, t) of query column j: even d in column j, odd d in
/// column VL/2 + j of `tile`, interleaved back, times inv, stored within head_dim.
template <uint64_t kTile, class Out>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE void decode_store_chunk(
    Out* o, size_t t, size_t j, size_t d, svfloat32_t inv) SME2K_STREAMING SME2K_INOUT_ZA {
  const size_t vl = svcntw();
  const svbool_t all = svptrue_b32();
  const uint32_t ej = za_slice(static_cast<uint32_t>(j));
  const svfloat32_t ev =
      svmul_f32_x(all, svread_ver_za32_f32_m(svundef_f32(), all, kTile, ej), inv);
  const svfloat32_t od = svmul_f32_x(
      all, svread_ver_za32_f32_m(svundef_f32(), all, kTile, ej + static_cast<uint32_t>(vl / 2)),
      inv);
  for (size_t h = 0; h < 2; ++h) {
    const size_t d0 = t * 2 * vl + h * vl;
    const svbool_t lanes = svwhilelt_b32_u64(d0, d);
    const svfloat32_t z = h == 0 ? svzip1_f32(ev, od) : svzip2_f32(ev, od);
    if constexpr (sizeof(Out) == 4) {
      svst1_f32(lanes, o + d0, z);
    } else {
      const svfloat16_t x = svcvt_f16_f32_x(all, z);  // even halves: the low 16 bits
      svst1h_u32(lanes, reinterpret_cast<uint16_t*>(o + d0), svreinterpret_u32(x));
    }
  }
}

/// y + 126 = cexp x + shift for four vectors (shift: the columns' 126 - cexp m, twice each):
/// by vector-group FMLAs in ZA group 0 (tile 0 is cleared) or by FMLAs in registers.
template <bool kZa>
SME2K_TARGET_SME2 SME2K_ALWAYS_INLINE svfloat32x4_t decode_y(svfloat32x4_t x, const float* shift,
                                                             svfloat32_t cexp_v, svfloat32x4_t ones)
    SME2K_STREAMING SME2K_INOUT_ZA {
  const svfloat32x4_t s4 = svld1_f32_x4(svptrue_c32(), shift);
  if constexpr (kZa) {
    const uint32_t gy = za_slice(0);
    svzero_mask_za(za_group_zero_mask(0));
    svmla_za32_f32_vg1x4(gy, ones, s4);
    svmla_single_za32_f32_vg1x4(gy, x, cexp_v);
    return svread_za32_f32_vg1x4(gy);
  } else {
    const svbool_t all = svptrue_b32();
    return svcreate4(svmla_f32_x(all, svget4(s4, 0), svget4(x, 0), cexp_v),
                     svmla_f32_x(all, svget4(s4, 1), svget4(x, 1), cexp_v),
                     svmla_f32_x(all, svget4(s4, 2), svget4(x, 2), cexp_v),
                     svmla_f32_x(all, svget4(s4, 3), svget4(x, 3), cexp_v));
  }
}

/// All units [first, last) of a call: one streaming session (the op's task).
template <bool kZa, class Out>
SME2K_LOCALLY_STREAMING SME2K_NEW_ZA SME2K_TARGET_SME2 void attention_decode_units_sme2(
    const ::sme2k::detail::AttentionCall<f16, Out>& c, const ::sme2k::detail::AttentionUnits& units,
    size_t first, size_t last, const AttentionDecodeLayout& lay, void* workspace) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr size_t kMaxCols = 32;  // VL/2 at SVL 2048
  const size_t vl = svcntw(), d = c.shape.head_dim, kv = c.shape.kv_len, group = c.group();
  const size_t words = attention_words<f16>(d), half = vl / 2, blk = 2 * vl;
  const size_t pairs = AttentionDecodeLayout::chunk_pairs(d, vl);
  const bool resident = pairs == 1;
  auto* base = static_cast<float*>(workspace);
  auto* kp = reinterpret_cast<uint32_t*>(base + lay.k_panel);
  auto* qp = reinterpret_cast<uint32_t*>(base + lay.q_panel);
  float* sc = base + lay.scores;
  auto* pf = reinterpret_cast<float16_t*>(base + lay.probs);
  float* bq = base + lay.shift;  // per column, twice: 126 - cexp max(m, -1e20)
  float* ls = base + lay.sums;   // per column: running sums by lane
  float* ot = base + lay.out_t;
  const float cexp = c.scale * kLog2e;
  const svfloat32_t cexp_v = opaque(svdup_f32(cexp));
  const svbool_t all = svptrue_b32(), all16 = svptrue_b16();
  const svcount_t pc = svptrue_c32();
  const svfloat32x4_t ones = ones_x4();
  const svfloat32x4_t c_lo = exp2_coefs_low<3>();
  const svfloat32x2_t c_hi = exp2_coefs_high<3>();
  const Exp2Shift shift = exp2_shift();
  const svuint32_t ebias = exp2_bias();
  const svfloat32_t floor_v = opaque(svdup_f32(kAttentionFloor));
  const svfloat32_t zero = opaque(svdup_f32(0.0f));
  const svfloat32_t lazy = opaque(svdup_f32(kExp2Bias + kLazyRescale));
  const svfloat32_t inv_scale = svdup_f32(1.0f / c.scale);
  const size_t ks = c.k.seq_stride;
  float m[kMaxCols];
  size_t kf[kMaxCols], kl[kMaxCols], head[kMaxCols], row[kMaxCols];
  bool edge[kMaxCols];
  for (size_t u = first; u < last; ++u) {
    const ::sme2k::detail::AttentionUnit unit = units[u];
    const size_t b = unit.batch, g = unit.kv_head, r0 = unit.row_begin;
    const size_t columns = (unit.row_end - r0) * group;
    for (size_t c0 = 0; c0 < columns; c0 += half) {
      const size_t n = columns - c0 < half ? columns - c0 : half, n2 = (n + 1) / 2 * 2;
      size_t lo = kv, hi = 0;
      for (size_t j = 0; j < n2; ++j) {
        const svfloat32_t s = svdup_f32(j < n ? kExp2Bias + 1e20f * cexp : -1e30f);
        svst1_f32(all, bq + j * blk, s);
        svst1_f32(all, bq + j * blk + vl, s);
        svst1_f32(all, ls + j * vl, zero);
        if (j >= n) continue;
        head[j] = g * group + (c0 + j) % group, row[j] = r0 + (c0 + j) / group;
        m[j] = kAttentionFloor;
        c.visible_keys(row[j], &kf[j], &kl[j]);
        if (kf[j] < kl[j]) {
          lo = kf[j] < lo ? kf[j] : lo;
          hi = kl[j] > hi ? kl[j] : hi;
        }
      }
      const f16* q_at[kMaxCols];
      for (size_t j = 0; j < n; ++j) q_at[j] = c.q_row(b, head[j], row[j]);
      pack_word_panel<f16>(qp, n, d,
                           [&q_at](size_t j) SME2K_STREAMING_COMPATIBLE { return q_at[j]; });
      if (resident) {
        svzero_mask_za(0xAA);  // tiles 1 and 3
      } else {
        for (size_t i = 0; i < pairs * 2 * vl * vl; i += vl) svst1_f32(all, ot + i, zero);
      }
      for (size_t kb = lo / blk * blk; kb < hi; kb += blk) {
        const size_t nk = kv - kb < blk ? kv - kb : blk;
        // A. K^T of the block (two key tiles through tile 0), S = Q K^T into tiles 0 and 2.
        for (size_t t = 0; t < 2; ++t) {
          const size_t j0 = kb + t * vl, rows = j0 < kv ? (kv - j0 < vl ? kv - j0 : vl) : 0;
          const f16* k0 = rows > 0 ? c.k_row(b, g, j0) : nullptr;  // by value: no reloads
          pack_word_panel<f16>(kp + t * words * vl, rows, d,
                               [k0, ks](size_t i)
                                   SME2K_STREAMING_COMPATIBLE { return k0 + i * ks; });
        }
        svzero_mask_za(0x55);  // tiles 0 and 2
        if (c.mask.bias != nullptr) {
          for (size_t j = 0; j < n; ++j) {
            const float* brow = c.bias_row(b, head[j], row[j]) + kb;
            const uint32_t s = za_slice(static_cast<uint32_t>(j));
            svfloat32_t x0 = svld1_f32(svwhilelt_b32_u64(0, nk), brow);
            svfloat32_t x1 = svld1_f32(svwhilelt_b32_u64(vl, nk), brow + vl);
            x0 = svmax_f32_x(all, svmul_f32_x(all, x0, inv_scale), floor_v);
            x1 = svmax_f32_x(all, svmul_f32_x(all, x1, inv_scale), floor_v);
            svwrite_hor_za32_f32_m(0, s, all, svmin_n_f32_x(all, x0, -kAttentionFloor));
            svwrite_hor_za32_f32_m(2, s, all, svmin_n_f32_x(all, x1, -kAttentionFloor));
          }
        }
        for (size_t w = 0; w < words; ++w) {
          const svfloat16_t zq = svreinterpret_f16(svld1_u32(all, qp + w * vl));
          svmopa_za32_f16_m(0, all16, all16, zq, svreinterpret_f16(svld1_u32(all, kp + w * vl)));
          svmopa_za32_f16_m(2, all16, all16, zq,
                            svreinterpret_f16(svld1_u32(all, kp + (words + w) * vl)));
        }
        for (size_t j = 0; j < n2; ++j) {
          const uint32_t s = za_slice(static_cast<uint32_t>(j));
          svst1_hor_za32(0, s, all, sc + j * blk);
          svst1_hor_za32(2, s, all, sc + j * blk + vl);
        }
        // Keys a column may not see (causal, window, past kv_len) to the floor.
        for (size_t j = 0; j < n; ++j) {
          edge[j] = kb < kf[j] || kb + blk > kl[j];
          for (size_t t = 0; t < 2 && edge[j]; ++t) {
            const ptrdiff_t k0 = static_cast<ptrdiff_t>(kb + t * vl);
            float* at = sc + j * blk + t * vl;
            const svbool_t seen =
                lane_range(static_cast<ptrdiff_t>(kf[j]) - k0, static_cast<ptrdiff_t>(kl[j]) - k0);
            svst1_f32(all, at, svsel_f32(seen, svld1_f32(all, at), floor_v));
          }
        }
        // B. Two columns (four vectors) at a time: y, the lazy maximum, P, sums, f16.
        for (size_t p = 0; p < n; p += 2) {
          const svfloat32x4_t x = svld1_f32_x4(pc, sc + p * blk);
          svfloat32x4_t yb = decode_y<kZa>(x, bq + p * blk, cexp_v, ones);
          const svfloat32_t ymax = svmax_f32_x(all, svmax_f32_x(all, svget4(yb, 0), svget4(yb, 1)),
                                               svmax_f32_x(all, svget4(yb, 2), svget4(yb, 3)));
          if (svptest_any(all, svcmpgt_f32(all, ymax, lazy))) {
            // A column's maximum grew past the lazy bound (or its first keys): m = the
            // block's maximum, O's columns and the sums times 2^(cexp (m_old - m)).
            svfloat32_t scale_cols = svdup_f32(1.0f);
            bool moved = false, rescale = false;  // rescale: an O column holds keys
            for (size_t j = p; j < p + 2 && j < n; ++j) {
              const svfloat32_t xm = j == p ? svmax_f32_x(all, svget4(x, 0), svget4(x, 1))
                                            : svmax_f32_x(all, svget4(x, 2), svget4(x, 3));
              const float bm = svmaxv_f32(all, xm);
              if (!(bm > m[j]) || !(bm > kAttentionFloor * 0.5f)) continue;
              const float m_old = m[j] > -1e20f ? m[j] : -1e20f;
              // 2^(y - 126); below 2^-126 exactly 0 (exp2's floor there is ~2^-126, not 0).
              const float ya_s = (m_old - bm) * cexp + kExp2Bias;
              const svfloat32_t ya = svdup_f32(ya_s);
              const svfloat32_t alpha =
                  ya_s > 0.0f
                      ? svget4(exp2_z_x4<3>(svcreate4(ya, ya, ya, ya), c_lo, c_hi, shift, ebias), 0)
                      : zero;
              svst1_f32(all, ls + j * vl, svmul_f32_x(all, svld1_f32(all, ls + j * vl), alpha));
              const auto jj = static_cast<ptrdiff_t>(j), hh = static_cast<ptrdiff_t>(half);
              const svbool_t cols =
                  svorr_b_z(all, lane_range(jj, jj + 1), lane_range(hh + jj, hh + jj + 1));
              scale_cols = svsel_f32(cols, alpha, scale_cols);
              moved = true;
              rescale = rescale || m[j] > kAttentionFloor * 0.5f;  // else the column is 0
              m[j] = bm;
              const svfloat32_t s = svdup_f32(kExp2Bias - cexp * (bm > -1e20f ? bm : -1e20f));
              svst1_f32(all, bq + j * blk, s);
              svst1_f32(all, bq + j * blk + vl, s);
            }
            if (rescale) {
              if (resident) decode_out_tiles(ot, vl, false);
              const size_t count = (resident ? 2 : pairs * 2) * vl * vl;
              for (size_t i = 0; i < count; i += vl) {
                svst1_f32(all, ot + i, svmul_f32_x(all, svld1_f32(all, ot + i), scale_cols));
              }
              if (resident) decode_out_tiles(ot, vl, true);
            }
            if (moved) yb = decode_y<kZa>(x, bq + p * blk, cexp_v, ones);
          }
          svfloat32x4_t e;
          if constexpr (kZa) {
            e = exp2_za_x4<3, 0, 2, 4>(yb, ones, c_lo, c_hi, shift, ebias);
          } else {
            e = exp2_z_x4<3>(yb, c_lo, c_hi, shift, ebias);
          }
          for (size_t j = p; j < p + 2 && j < n; ++j) {
            const bool first_col = j == p;
            svfloat32_t e0 = first_col ? svget4(e, 0) : svget4(e, 2);
            svfloat32_t e1 = first_col ? svget4(e, 1) : svget4(e, 3);
            if (edge[j]) {  // masked keys give exactly 0, not exp2's floor
              const ptrdiff_t k0 = static_cast<ptrdiff_t>(kb), f = static_cast<ptrdiff_t>(kf[j]),
                              l = static_cast<ptrdiff_t>(kl[j]), w = static_cast<ptrdiff_t>(vl);
              e0 = svsel_f32(lane_range(f - k0, l - k0), e0, zero);
              e1 = svsel_f32(lane_range(f - k0 - w, l - k0 - w), e1, zero);
            }
            if (c.mask.bias != nullptr) {  // -inf bias
              const svfloat32_t x0 = first_col ? svget4(x, 0) : svget4(x, 2);
              const svfloat32_t x1 = first_col ? svget4(x, 1) : svget4(x, 3);
              e0 = svsel_f32(svcmpgt_n_f32(all, x0, kAttentionFloor * 0.5f), e0, zero);
              e1 = svsel_f32(svcmpgt_n_f32(all, x1, kAttentionFloor * 0.5f), e1, zero);
            }
            svst1_f32(all, ls + j * vl,
                      svadd_f32_x(all, svld1_f32(all, ls + j * vl), svadd_f32_x(all, e0, e1)));
            svst1_f16(all16, pf + j * blk, svcvt_f16_f32_x2(svcreate2(e0, e1)));
          }
        }
        // C. P into ZA0.H: (P, 0) in 32-bit column j, (0, P) in column VL/2 + j.
        svzero_mask_za(0x55);
        for (size_t j = 0; j < n; ++j) {
          const svfloat16_t h = svld1_f16(all16, pf + j * blk);
          svwrite_ver_za16_f16_m(0, za_slice(static_cast<uint32_t>(2 * j)), all16, h);
          svwrite_ver_za16_f16_m(0, za_slice(static_cast<uint32_t>(vl + 2 * j + 1)), all16, h);
        }
        // D. O += per key: its P slice against V's row, two chunks of 2 VL of d at a time.
        for (size_t cp = 0; cp < pairs; ++cp) {
          float* ot_p = ot + cp * 2 * vl * vl;
          if (!resident) decode_out_tiles(ot_p, vl, true);
          const size_t d0 = cp * 2 * blk, d1 = d0 + blk;
          const svbool_t p0 = svwhilelt_b16_u64(d0, d), p1 = svwhilelt_b16_u64(d1, d);
          const auto* v0 = reinterpret_cast<const float16_t*>(c.v_row(b, g, kb));
          const size_t vs = c.v.seq_stride;
          if (d1 < d) {
            for (size_t k = 0; k < nk; ++k) {
              const svfloat16_t zp = svread_hor_za16_f16_m(svundef_f16(), all16, 0,
                                                           za_slice(static_cast<uint32_t>(k)));
              svmopa_za32_f16_m(1, all16, all16, svld1_f16(p0, v0 + k * vs + d0), zp);
              svmopa_za32_f16_m(3, all16, all16, svld1_f16(p1, v0 + k * vs + d1), zp);
            }
          } else {
            for (size_t k = 0; k < nk; ++k) {
              const svfloat16_t zp = svread_hor_za16_f16_m(svundef_f16(), all16, 0,
                                                           za_slice(static_cast<uint32_t>(k)));
              svmopa_za32_f16_m(1, all16, all16, svld1_f16(p0, v0 + k * vs + d0), zp);
            }
          }
          if (!resident) decode_out_tiles(ot_p, vl, false);
        }
      }
      // O / l out; a column that saw no key (or only masked ones) gets zeros.
      float inv[kMaxCols];
      for (size_t j = 0; j < n; ++j) {
        const float l = svaddv_f32(all, svld1_f32(all, ls + j * vl));
        inv[j] = m[j] > kAttentionFloor * 0.5f && l > 0.0f ? 1.0f / l : 0.0f;
      }
      for (size_t cp = 0; cp < pairs; ++cp) {
        if (!resident) decode_out_tiles(ot + cp * 2 * vl * vl, vl, true);
        for (size_t j = 0; j < n; ++j) {
          Out* o = c.o_row(b, head[j], row[j]);
          decode_store_chunk<1>(o, 2 * cp, j, d, svdup_f32(inv[j]));
          if ((2 * cp + 1) * blk < d) decode_store_chunk<3>(o, 2 * cp + 1, j, d, svdup_f32(inv[j]));
        }
      }
    }
  }
}

/// The decode kernel type (ops/detail/attention_call.hpp contract; kDecode: the registry
/// offers it beside the prefill kernel, and fits() says when it runs instead).
template <class In, class Out>
struct AttentionDecodeSme2 {
  static_assert(std::is_same_v<In, f16>, "sme2k: the decode kernel is F16 only");
  using Input = In;
  using Output = Out;
  static constexpr bool kDecode = true;
  static constexpr std::string_view kName = std::is_same_v<Out, f16>
                                                ? "attention_f16_f16_f16_1vlx2vl_sme2_mopa"
                                                : "attention_f32_f16_f16_1vlx2vl_sme2_mopa";
  static constexpr Path kPath = Path::kSme2;
  static size_t q_step(size_t vl) { return vl; }
  static size_t kv_step(size_t vl) { return 2 * vl; }
  /// Whether it beats the prefill kernel on `shape`: fewer or as many passes over K and V
  /// (a pass holds VL/2 (head, row) columns here, VL rows of one head there; per key and
  /// pass both cost about the same outer products, and this one has no f32 copy of V).
  static bool fits(const AttentionShape& shape, size_t vl) {
    if (vl < 4) return false;
    const size_t group = shape.q_heads / shape.kv_heads, half = vl / 2;
    const size_t blocks = (shape.q_len + vl - 1) / vl;  // units of VL rows of every head
    const size_t last = shape.q_len - (blocks - 1) * vl;
    const size_t passes =
        (blocks - 1) * ((vl * group + half - 1) / half) + (last * group + half - 1) / half;
    return passes <= group * ((shape.q_len + vl - 1) / vl);
  }
  static bool workspace_bytes(const AttentionShape& shape, size_t vl, size_t* bytes) {
    AttentionDecodeLayout lay;
    return AttentionDecodeLayout::make(shape, vl, &lay) &&
           checked_mul(lay.total, sizeof(float), bytes);
  }
  static void run(const ::sme2k::detail::AttentionCall<In, Out>& call,
                  const ::sme2k::detail::AttentionUnits& units, size_t first, size_t last,
                  void* workspace) {
    AttentionDecodeLayout lay;  // outside streaming mode (see AttentionSme2::run)
    const size_t vl = streaming_vl();
    AttentionDecodeLayout::make(call.shape, vl, &lay);
    // The ZA way needs three vector groups in tiles 0 and 2: groups 0, 2, 4 (VL >= 8).
    if (cost_model() == CostModel::kVectorFavoured || vl < 8) {
      attention_decode_units_sme2<false>(call, units, first, last, lay, workspace);
    } else {
      attention_decode_units_sme2<true>(call, units, first, last, lay, workspace);
    }
  }
};

}  // namespace sme2
#endif  // SME2K_HAS_SME2_CODE

}  // namespace sme2k
