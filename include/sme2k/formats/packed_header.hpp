// The 64-byte header in front of every packed weight buffer (and every activation buffer
// gemm_pack_lhs() fills), so that packed data knows what it was packed for.
//
// A packed SME2 operand depends on the streaming vector length (a 2VL-wide panel is 32
// columns at SVL 512 and 8 at SVL 128) and differs from the portable kernel's format.
// Packing records variant, format, path, SVL and shape here; an op checks them all and
// returns kPackedMismatch instead of reading data laid out for something else (weights
// packed on one device and loaded on another, a thread with another SVL, a forced path).
//
//   offset  bytes  field (little-endian, as every SME machine is)
//        0      8  magic "sme2kpk\0"
//        8      2  header version: 2
//       10      1  VariantId
//       11      1  PackedFormatId
//       12      1  Path
//       13      1  0
//       14      2  flags: bit 0 = has bias; bit 1 = (QS8) every requantization scale < 0.5;
//                  bit 2 = convolution weights; bit 3 = depthwise convolution weights
//       16      4  SVL in bytes (0 for portable formats)
//       20      4  variant-specific: QS8 the output zero point (int32), else 0
//       24      8  N (weights), M (activations packed by gemm_pack_lhs)
//       32      8  K
//       40      8  payload bytes
//       48      4  variant-specific: QS8 convolution weights the input zero point, else 0
//       52      4  CRC-32 (IEEE, as zlib's crc32) of these 64 bytes with this field 0
//       56      8  0
//       64         payload, in the format's own layout (see its header)
//
// Runtimes load packed weights from files and caches: a header damaged there must be refused,
// not read as another shape, zero point or flag. Every read checks the checksum (any single
// flipped bit, any burst up to 32 bits), then each field against what it may hold (reserved
// bytes 0, known flags, zero points in int8, flags only where their variant uses them, QD8's
// K); the op then compares variant, format, path, SVL, shape and payload size with its own.
// The checksum does not cover the payload: the per-row and per-channel parameters that
// integer arithmetic depends on (QD8 activations' zero points, QS8's folded biases and
// scales) are range-checked by the ops on every call, O(M) or O(N).
// Version 1 had no checksum: such buffers are refused as "of another version" (repack them).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "sme2k/arch/dispatch.hpp"
#include "sme2k/types/dynamic_quantization.hpp"
#include "sme2k/types/status.hpp"
#include "sme2k/types/variant.hpp"

namespace sme2k {

/// Every packed format sme2k writes, named as in docs/naming.md.
enum class PackedFormatId : uint8_t {
  kRhsF32p2vlx1bf32 = 1,    ///< SME2 f32 weights: 2VL-column panels, f32 bias row
  kRhsF32p8x1bf32 = 2,      ///< portable f32 weights: 8-column panels, f32 bias row
  kRhsF16p2vlx2bf32 = 3,    ///< SME2 f16 weights: 2VL-column panels of k pairs, f32 bias row
  kRhsF16p8x1bf32 = 4,      ///< portable f16 weights: 8-column panels, f32 bias row
  kRhsF16p4vlx1bf16 = 5,    ///< SME2 + F16F16 f16 weights: 4VL-column panels, f16 bias row
  kRhsQs8p2vlx4bs32 = 6,    ///< SME2 int8 weights: 2VL-column panels of k quads, channel params
  kRhsQs8p8x1bs32 = 7,      ///< portable int8 weights: 8-column panels, channel params
  kRhsQc8p2vlx4bf32 = 8,    ///< SME2 QD8 x QC8W weights: 2VL-column panels of k quads
  kRhsQc8p8x1bf32 = 9,      ///< portable QD8 x QC8W weights: 8-column panels
  kLhsQd8p2vlx4 = 10,       ///< SME2 QD8 activations: 2VL-row panels of k quads, row params
  kLhsQd8p1x1 = 11,         ///< portable QD8 activations: row params, then int8 rows
  kRhsQc4p2vlx4bf32 = 12,   ///< SME2 QD8 x QC4W weights: 2VL-column panels, two columns a byte
  kRhsQc4p8x1bf32 = 13,     ///< portable QD8 x QC4W weights: 8-column panels of nibbles
  kRhsQb4p2vlx4bf32 = 14,   ///< SME2 QD8 x QB4W weights: qc4 panels with per-32-k scales
  kRhsQb4p8x1bf32 = 15,     ///< portable QD8 x QB4W weights: 8-column panels, per-32-k scales
  kRhsBf16p2vlx2bf32 = 16,  ///< SME2 bf16 weights: 2VL-column panels of k pairs, f32 bias row
  kRhsBf16p8x1bf32 = 17,    ///< portable bf16 weights: 8-column panels, f32 bias row
};

constexpr const char* packed_format_name(PackedFormatId format) {
  switch (format) {
    case PackedFormatId::kRhsF32p2vlx1bf32: return "f32p2vlx1bf32";
    case PackedFormatId::kRhsF32p8x1bf32: return "f32p8x1bf32";
    case PackedFormatId::kRhsF16p2vlx2bf32: return "f16p2vlx2bf32";
    case PackedFormatId::kRhsF16p8x1bf32: return "f16p8x1bf32";
    case PackedFormatId::kRhsF16p4vlx1bf16: return "f16p4vlx1bf16";
    case PackedFormatId::kRhsQs8p2vlx4bs32: return "qs8p2vlx4bs32";
    case PackedFormatId::kRhsQs8p8x1bs32: return "qs8p8x1bs32";
    case PackedFormatId::kRhsQc8p2vlx4bf32: return "qc8p2vlx4bf32";
    case PackedFormatId::kRhsQc8p8x1bf32: return "qc8p8x1bf32";
    case PackedFormatId::kLhsQd8p2vlx4: return "qd8p2vlx4";
    case PackedFormatId::kLhsQd8p1x1: return "qd8p1x1";
    case PackedFormatId::kRhsQc4p2vlx4bf32: return "qc4p2vlx4bf32";
    case PackedFormatId::kRhsQc4p8x1bf32: return "qc4p8x1bf32";
    case PackedFormatId::kRhsQb4p2vlx4bf32: return "qb4p2vlx4bf32";
    case PackedFormatId::kRhsQb4p8x1bf32: return "qb4p8x1bf32";
    case PackedFormatId::kRhsBf16p2vlx2bf32: return "bf16p2vlx2bf32";
    case PackedFormatId::kRhsBf16p8x1bf32: return "bf16p8x1bf32";
  }
  return "unknown";
}

struct PackedHeader {
  char magic[8];
  uint16_t version;
  VariantId variant;
  PackedFormatId format;
  Path path;
  uint8_t reserved0;
  uint16_t flags;
  uint32_t svl_bytes;
  int32_t variant_param;  // QS8: the output zero point
  uint64_t n;
  uint64_t k;
  uint64_t payload_bytes;
  int32_t variant_param2;  // QS8 convolution weights: the input zero point (padding's value)
  uint32_t checksum;       // packed_header_checksum()
  uint64_t reserved2;

  static constexpr char kMagic[8] = {'s', 'm', 'e', '2', 'k', 'p', 'k', '\0'};
  static constexpr uint16_t kVersion = 2;
  static constexpr uint16_t kFlagHasBias = 1;
  /// QS8: every requantization scale is below 0.5, so round(acc * scale) + zp fits int32.
  static constexpr uint16_t kFlagSmallScales = 2;
  /// Convolution weights (formats/conv_weights.hpp): a GEMM must not take them, nor a
  /// convolution GEMM weights.
  static constexpr uint16_t kFlagConvWeights = 4;
  static constexpr uint16_t kFlagDepthwise = 8;
  static constexpr uint16_t kKindFlags = kFlagConvWeights | kFlagDepthwise;
  static constexpr uint16_t kKnownFlags = kFlagHasBias | kFlagSmallScales | kKindFlags;

  bool has_bias() const { return (flags & kFlagHasBias) != 0; }
};
static_assert(sizeof(PackedHeader) == 64, "the packed header is part of the stored format");

/// Bytes of the header; the payload follows it.
constexpr size_t kPackedHeaderBytes = sizeof(PackedHeader);

/// Packed buffers hold 32-bit values (bias, scales, f32 weights) that plain C++ reads
/// directly, so they must start on a 4-byte boundary; 64 (a cache line) is best.
constexpr size_t kPackedAlignment = 4;

/// What an op expects of a packed buffer: the header must match every field.
struct PackedExpectation {
  VariantId variant;
  PackedFormatId format;
  Path path;
  uint32_t svl_bytes;
  uint64_t payload_bytes;  // from the format's size function for (n, k)
  uint16_t kind = 0;       // the header's kKindFlags: 0 for GEMM weights
};

inline const char* packed_kind_name(uint16_t kind) {
  if ((kind & PackedHeader::kFlagDepthwise) != 0) return "depthwise convolution weights";
  return (kind & PackedHeader::kFlagConvWeights) != 0 ? "convolution weights" : "GEMM weights";
}

namespace detail {
struct Crc32Table {
  uint32_t entry[256];
  constexpr Crc32Table() : entry() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int bit = 0; bit < 8; ++bit) c = (c & 1u) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      entry[i] = c;
    }
  }
};
inline constexpr Crc32Table kCrc32Table{};
}  // namespace detail

/// CRC-32 (IEEE 802.3, reflected; zlib's crc32()) of `bytes` bytes.
inline uint32_t crc32(const void* data, size_t bytes, uint32_t crc = 0) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < bytes; ++i)
    crc = detail::kCrc32Table.entry[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
  return ~crc;
}

/// The header's checksum: CRC-32 of its 64 bytes with the checksum field 0.
inline uint32_t packed_header_checksum(const PackedHeader& h) {
  PackedHeader copy = h;
  copy.checksum = 0;
  return crc32(&copy, sizeof copy);
}

/// A header with magic and version set, every other field 0: packers fill it, then
/// write_packed_header() seals it.
inline PackedHeader new_packed_header() {
  PackedHeader h{};
  std::memcpy(h.magic, PackedHeader::kMagic, sizeof h.magic);
  h.version = PackedHeader::kVersion;
  return h;
}

/// Stores `h` at the start of a packed buffer, with its checksum.
inline void write_packed_header(void* packed, PackedHeader h) {
  h.checksum = packed_header_checksum(h);
  std::memcpy(packed, &h, sizeof h);
}

/// The fields that need no op to be checked: reserved bytes, flags, variant parameters.
inline Status check_packed_header_fields(const PackedHeader& h, const char* what) {
  const auto bad = [&](const char* field) {
    return Status::error(StatusCode::kPackedMismatch, "%s: header field %s is invalid", what,
                         field);
  };
  if (h.reserved0 != 0 || h.reserved2 != 0) return bad("reserved");
  if ((h.flags & ~PackedHeader::kKnownFlags) != 0) return bad("flags (unknown bit)");
  const bool conv = (h.flags & PackedHeader::kFlagConvWeights) != 0;
  if ((h.flags & PackedHeader::kFlagDepthwise) != 0 && !conv) return bad("flags (kind)");
  const bool qs8 = h.variant == VariantId::kQS8;
  if ((h.flags & PackedHeader::kFlagSmallScales) != 0 && !qs8) return bad("flags (small scales)");
  // QS8 weights always carry the folded zero-point term in their bias.
  if (qs8 && !h.has_bias()) return bad("flags (QS8 without bias)");
  // Zero points of int8 data: in [-128, 127]; 0 where the variant has none.
  const auto int8_or_zero = [](int32_t v, bool used) {
    return used ? v >= -128 && v <= 127 : v == 0;
  };
  if (!int8_or_zero(h.variant_param, qs8)) return bad("output zero point");
  if (!int8_or_zero(h.variant_param2, qs8 && conv)) return bad("input zero point");
  // QD8's int32 accumulators (the zero-point term included) fit for K <= kQd8MaxK only.
  const bool qd8_int = h.variant == VariantId::kQD8 || h.variant == VariantId::kQD8QC4W;
  if (qd8_int && h.k > kQd8MaxK) return bad("K (above QD8's limit)");
  return Status();
}

/// Reads the header of `packed` (any alignment) after checking that `bytes` can hold one.
/// `what` names the buffer in messages ("packed weights", "packed activations").
inline Status read_packed_header(const void* packed, size_t bytes, PackedHeader* header,
                                 const char* what = "packed weights") {
  if (packed == nullptr) return Status::error(StatusCode::kNullPointer, "%s are null", what);
  if (reinterpret_cast<uintptr_t>(packed) % kPackedAlignment != 0) {
    return Status::error(StatusCode::kInvalidArgument, "%s at %p are not %zu-byte aligned", what,
                         packed, kPackedAlignment);
  }
  if (bytes < kPackedHeaderBytes) {
    return Status::error(StatusCode::kBufferTooSmall,
                         "%s: %zu bytes cannot hold the %zu-byte header", what, bytes,
                         kPackedHeaderBytes);
  }
  std::memcpy(header, packed, sizeof *header);
  if (std::memcmp(header->magic, PackedHeader::kMagic, sizeof header->magic) != 0 ||
      header->version != PackedHeader::kVersion) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s: not an sme2k packed buffer (or of another version)", what);
  }
  if (header->checksum != packed_header_checksum(*header)) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s: the header is corrupted (checksum mismatch)", what);
  }
  SME2K_RETURN_IF_ERROR(check_packed_header_fields(*header, what));
  if (header->payload_bytes > bytes - kPackedHeaderBytes) {
    return Status::error(
        StatusCode::kBufferTooSmall, "%s: header says %llu payload bytes, buffer holds %zu", what,
        static_cast<unsigned long long>(header->payload_bytes), bytes - kPackedHeaderBytes);
  }
  return Status();
}

/// Checks a read header against what the op will run.
inline Status check_packed_header(const PackedHeader& h, const PackedExpectation& want,
                                  const char* what = "packed weights") {
  if (h.variant != want.variant) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s are for another variant (id %d, op wants %d)", what,
                         static_cast<int>(h.variant), static_cast<int>(want.variant));
  }
  if ((h.flags & PackedHeader::kKindFlags) != want.kind) {
    return Status::error(StatusCode::kPackedMismatch, "%s are %s; this op takes %s", what,
                         packed_kind_name(h.flags), packed_kind_name(want.kind));
  }
  if (h.path != want.path || h.format != want.format) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s are for the %s path (format %s); this op runs %s (%s)", what,
                         path_name(h.path), packed_format_name(h.format), path_name(want.path),
                         packed_format_name(want.format));
  }
  if (h.svl_bytes != want.svl_bytes) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s are for SVL %u bits; this thread's SVL is %u bits", what,
                         h.svl_bytes * 8, want.svl_bytes * 8);
  }
  if (h.payload_bytes != want.payload_bytes) {
    return Status::error(StatusCode::kPackedMismatch,
                         "%s: payload of %llu bytes, format needs %llu", what,
                         static_cast<unsigned long long>(h.payload_bytes),
                         static_cast<unsigned long long>(want.payload_bytes));
  }
  return Status();
}

}  // namespace sme2k
