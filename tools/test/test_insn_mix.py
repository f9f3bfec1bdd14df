#!/usr/bin/env python3
"""Tests of tools/insn-mix: known instruction streams give known counts and modeled cycles.

Unit tests feed hand-made QEMU logs (the `-d in_asm,exec,nochain` format) through
--from-log; the expected figures are worked out by hand below from docs/insn-mix.md's
constants, not computed by the tool's own functions. With --probe PROGRAM (the aarch64
build's insn_mix_probe), one more test runs that program under QEMU: a region of interest
with smstart, LOOPS x four fmopa into four tiles, smstop, and checks the exact counts.

  test_insn_mix.py [--insn-mix PATH] [--probe PROGRAM --qemu QEMU]
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
INSN_MIX = os.path.join(HERE, "..", "insn-mix")


def parse_options(args):
    """Takes this script's own options off the command line (before the test classes are
    defined: the QEMU test is skipped without --probe); the rest goes to unittest."""
    global INSN_MIX
    while args and args[0] in ("--insn-mix", "--probe", "--qemu"):
        opt, value = args.pop(0), args.pop(0)
        if opt == "--insn-mix":
            INSN_MIX = value
        else:
            os.environ["INSN_MIX_" + opt[2:].upper()] = value
    return args


ARGS = parse_options(sys.argv[1:])

# Instruction words (little-endian encodings from llvm-mc -show-encoding) and their text.
W = {
    "smstart": (0xD503477F, "smstart"),
    "smstop": (0xD503467F, "smstop"),
    "fmopa0": (0x80812000, "fmopa za0.s, p0/m, p1/m, z0.s, z1.s"),
    "fmopa1": (0x80812001, "fmopa za1.s, p0/m, p1/m, z0.s, z1.s"),
    "fmopa2": (0x80812002, "fmopa za2.s, p0/m, p1/m, z0.s, z1.s"),
    "fmopa3": (0x80812003, "fmopa za3.s, p0/m, p1/m, z0.s, z1.s"),
    "smopa0": (0xA0812000, "smopa za0.s, p0/m, p1/m, z0.b, z1.b"),
    "ld1w": (0xA540A000, "ld1w {z0.s}, p0/z, [x0]"),
    "st1w": (0xE540E020, "st1w {z0.s}, p0, [x1]"),
    "add": (0x91000400, "add x0, x0, #1"),
    "subs": (0xF1000442, "subs x2, x2, #1"),
    "bne": (0x54FFFF61, "b.ne #-20"),
    "ret": (0xD65F03C0, "ret"),
    "neon_add": (0x4EA28420, "add v0.4s, v1.4s, v2.4s"),
    "fadd": (0x65820020, "fadd z0.s, z1.s, z2.s"),
    "ptrue": (0x2598E3E0, "ptrue p0.s"),
    "nop": (0xD503201F, "nop"),
}


class Log:
    """Builds a QEMU log: translate() writes an IN: block, run() its Trace lines."""

    def __init__(self):
        self.lines = []
        self.host = 0x7F0000001000
        self.hosts = {}

    def translate(self, sym, pc, names):
        self.lines.append("IN: %s\n" % sym)
        for i, n in enumerate(names):
            w, text = W[n]
            self.lines.append("0x%08x:  %08x  %s\n" % (pc + 4 * i, w, text))
        self.lines.append("\n")
        self.host += 0x100
        self.hosts[(sym, pc)] = self.host
        return (sym, pc, self.host)

    def run(self, block, times=1, streaming=0):
        sym, pc, host = block
        for _ in range(times):
            self.lines.append("Trace 0: 0x%x [%08x/%016x/00000000/00000000] %s\n"
                              % (host, streaming << 22, pc, sym))

    def text(self):
        return "".join(self.lines)


def insn_mix(log, *args):
    """Runs insn-mix --from-log on the log and returns its JSON."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "log")
        with open(path, "w") as f:
            f.write(log.text())
        out = os.path.join(d, "out.json")
        r = subprocess.run([sys.executable, INSN_MIX, "--from-log", path, "--json", out,
                            "--cpu", "max,sme512=on,sve512=on"] + list(args) + ["--", "prog"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise AssertionError("insn-mix failed: %s%s" % (r.stdout, r.stderr))
        with open(out) as f:
            return json.load(f)


def gemm_like_log(loops, tiles=4):
    """Non-streaming prologue (2 adds), smstart, LOOPS x (tiles fmopa + ld1w + st1w + subs +
    b.ne) in streaming mode, smstop, ret."""
    log = Log()
    pro = log.translate("kernel", 0x400000, ["add", "add", "smstart"])
    body_names = ["fmopa%d" % (i % 4) if tiles == 4 else "fmopa0" for i in range(4)]
    body = log.translate("kernel", 0x400100, body_names + ["ld1w", "st1w", "subs", "bne"])
    epi = log.translate("kernel", 0x400200, ["smstop", "ret"])
    log.run(pro)
    log.run(body, loops, streaming=1)
    log.run(epi, streaming=1)
    return log


class Counts(unittest.TestCase):
    def test_classes_and_toggles(self):
        r = insn_mix(gemm_like_log(10), "--model", "both")
        a = r["all"]
        # 2 adds + smstart + 10 x 8 + smstop + ret
        self.assertEqual(a["total"], 3 + 80 + 2)
        c = a["classes"]
        self.assertEqual(c["outer_product"], 40)
        self.assertEqual(c["load"], 10)
        self.assertEqual(c["store"], 10)
        self.assertEqual(c["branch"], 10 + 1)  # b.ne x 10 and ret
        self.assertEqual(c["scalar"], 2 + 10)  # adds and subs
        self.assertEqual(c["sm_switch"], 2)
        self.assertEqual((a["smstart"], a["smstop"]), (1, 1))
        # full-tile MACs of fmopa za.s at SVL 512: 16 x 16 per instruction
        self.assertEqual(a["op_macs"], 40 * 256)
        self.assertEqual(a["model"]["toggles"], 2)
        self.assertEqual(a["model"]["fa64_only"], 0)

    def test_retranslated_block_counts_each_translation(self):
        # The same guest pc translated twice (e.g. non-streaming, then streaming flags):
        # each Trace line binds to its own translation by host pointer.
        # QEMU executes a block right after translating it.
        log = Log()
        a = log.translate("f", 0x1000, ["add", "add"])
        log.run(a, 3)
        b = log.translate("f", 0x1000, ["add"])
        log.run(b, 5)
        log.run(a, 2)
        r = insn_mix(log)
        self.assertEqual(r["all"]["total"], 5 * 2 + 5 * 1)
        self.assertEqual(r["meta"]["guest_pcs_translated_more_than_once"], 1)
        self.assertEqual(r["meta"]["trace_fallback_by_pc"], 0)

    def test_region_of_interest(self):
        log = Log()
        outside = log.translate("main", 0x2000, ["add", "add", "add"])
        begin = log.translate("sme2k_roi_begin", 0x3000, ["ret"])
        inside = log.translate("work", 0x4000, ["add", "subs"])
        end = log.translate("sme2k_roi_end", 0x5000, ["ret"])
        log.run(outside, 4)
        log.run(begin)
        log.run(inside, 7)
        log.run(end)
        log.run(outside, 2)
        log.run(begin)
        log.run(inside, 1)
        log.run(end)
        r = insn_mix(log, "--roi")
        self.assertEqual(r["meta"]["roi"]["windows"], 2)
        self.assertEqual(r["all"]["total"], 8 * 2)  # markers and code outside not counted


class Model(unittest.TestCase):
    """Cycles from docs/insn-mix.md's table, SVL 512, 100 cycles per toggle."""

    def test_outer_product_bound(self):
        loops = 1000
        r = insn_mix(gemm_like_log(loops), "--macs", str(loops * 4 * 256), "--dtype", "f32")
        m4, c1 = r["all"]["model"]["m4"], r["all"]["model"]["c1"]
        # M4: fmopa f32 1 cycle, 4 tiles in use (need 4): compute 4000; ld1w 64 B = 1,
        # st1w 64 B = 1.28 -> 2280; scalar bound (subs + b.ne) / 4 = 500.
        self.assertAlmostEqual(m4["bounds"]["compute"], 4000.0)
        self.assertAlmostEqual(m4["bounds"]["load_store"], loops * 2.28)
        self.assertAlmostEqual(m4["bounds"]["core_scalar"], loops * 2 / 4.0)
        self.assertEqual(m4["streaming_bound"], "compute")
        # non-streaming: 2 adds + smstart, and the ret after smstop = 4 insns / IPC 4;
        # 2 toggles x 100
        self.assertAlmostEqual(m4["non_streaming_cycles"], 4 / 4.0)
        self.assertAlmostEqual(m4["total_cycles"], 4000 + 1 + 200)
        # ideal = MACs / 256 per cycle = 4000 -> efficiency 4000 / 4201
        self.assertAlmostEqual(m4["efficiency"], 4000 / 4201.0)
        # C1: fmopa 2 cycles (2 tiles needed, 4 used) -> 8000; loads/stores 1 per register
        self.assertAlmostEqual(c1["bounds"]["compute"], 8000.0)
        self.assertAlmostEqual(c1["bounds"]["load_store"], 2000.0)
        self.assertAlmostEqual(c1["total_cycles"], 8000 + 4 / 3.0 + 200)
        self.assertAlmostEqual(c1["efficiency"], (loops * 4 * 256 / 128.0) / c1["total_cycles"])

    def test_tile_rule(self):
        # One tile for f32 outer products: M4 needs 4 -> each costs 4 cycles.
        r = insn_mix(gemm_like_log(100, tiles=1), "--model", "m4")
        op = r["all"]["model"]["m4"]["outer_products"]["f32"]
        self.assertEqual(op["count"], 400)
        self.assertAlmostEqual(op["factor"], 4.0)
        self.assertAlmostEqual(r["all"]["model"]["m4"]["bounds"]["compute"], 1600.0)

    def test_int8_peak_and_smswitch_cost(self):
        log = Log()
        pro = log.translate("k", 0x1000, ["smstart"])
        body = log.translate("k", 0x1100, ["smopa0", "smopa0"])
        epi = log.translate("k", 0x1200, ["smstop"])
        log.run(pro)
        log.run(body, 50, streaming=1)
        log.run(epi, streaming=1)
        r = insn_mix(log, "--macs", str(100 * 1024), "--smswitch-cycles", "10")
        m4 = r["all"]["model"]["m4"]
        self.assertEqual(m4["dtype"], "i8")  # inferred from the outer products
        # smopa i8: 2 cycles, 1 tile used, 2 needed -> x2: 100 x 4 = 400
        self.assertAlmostEqual(m4["bounds"]["compute"], 400.0)
        self.assertAlmostEqual(m4["sm_switch_cycles"], 20.0)
        self.assertAlmostEqual(m4["total_cycles"], 400 + 1 / 4.0 + 20)
        self.assertAlmostEqual(m4["ideal_cycles"], 100 * 1024 / 512.0)

    def test_fa64_only_and_ssve(self):
        log = Log()
        pro = log.translate("k", 0x1000, ["smstart"])
        body = log.translate("k", 0x1100, ["neon_add", "fadd", "ptrue"])
        epi = log.translate("k", 0x1200, ["smstop", "neon_add"])
        log.run(pro)
        log.run(body, 10, streaming=1)
        log.run(epi, streaming=1)
        r = insn_mix(log, "--model", "both")
        model = r["all"]["model"]
        self.assertEqual(model["fa64_only"], 10)  # the NEON add after smstop is legal
        m4 = model["m4"]
        # M4: NEON 4 (fa64_only, charged as SSVE) + fadd 4 + ptrue 1 = 9 per loop
        self.assertAlmostEqual(m4["bounds"]["compute"], 90.0)
        self.assertEqual(m4["non_streaming_insns"], 2)  # smstart, and the NEON add after smstop
        c1 = model["c1"]
        self.assertAlmostEqual(c1["bounds"]["compute"], 10 * (0.5 + 0.5 + 0.5))


@unittest.skipUnless(os.environ.get("INSN_MIX_PROBE"), "no --probe program")
class UnderQemu(unittest.TestCase):
    def test_probe(self):
        loops = 25
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "out.json")
            r = subprocess.run([sys.executable, INSN_MIX, "--roi", "--qemu",
                                os.environ["INSN_MIX_QEMU"], "--cpu", "max,sme512=on,sve512=on",
                                "--macs", str(loops * 4 * 256), "--json", out, "--",
                                os.environ["INSN_MIX_PROBE"], str(loops)],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(out) as f:
                res = json.load(f)
        a = res["all"]
        self.assertEqual(res["meta"]["roi"]["windows"], 1)
        self.assertEqual(a["classes"]["outer_product"], 4 * loops)
        self.assertEqual(a["mnemonics"].get("fmopa"), 4 * loops)
        self.assertEqual((a["smstart"], a["smstop"]), (1, 1))
        m4 = a["model"]["m4"]
        self.assertEqual(m4["toggles"], 2)
        self.assertEqual(a["model"]["fa64_only"], 0)
        # four tiles: one cycle per fmopa on M4 and one for the ptrue, 100 per toggle; the
        # loop's own instructions overlap (scalar bound = (subs + b.ne) x loops / 4)
        self.assertAlmostEqual(m4["bounds"]["compute"], 4.0 * loops + 1)
        self.assertEqual(m4["streaming_bound"], "compute")
        self.assertGreaterEqual(m4["total_cycles"], 4.0 * loops + 200)
        self.assertLess(m4["total_cycles"], 4.0 * loops + 200 + 20)


if __name__ == "__main__":
    unittest.main(argv=[sys.argv[0]] + ARGS, verbosity=2)
