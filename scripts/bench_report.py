#!/usr/bin/env python3
"""scripts/bench's side-by-side part: sme2k against KleidiAI in the cycle model.

  bench_report.py MODEL_DIR REPORT_DIR GBENCH_JSON... -- PAIR...

PAIR is "LABEL|SME2K_NAME|KAI_NAME|NOTE": MODEL_DIR/<name>.json are tools/insn-mix --json
reports of one op call each (sme2k-run and kai-run, the same shape). Prints the table
(modeled cycles and efficiency, Apple M4 and Arm C1 models, and the ratio KleidiAI cycles /
sme2k cycles: above 1, sme2k needs fewer), then writes REPORT_DIR/bench-report.md (these
rows, every sme2k row of MODEL_DIR, the Google Benchmark results given as JSON files) and
REPORT_DIR/bench-efficiency.png (modeled efficiency per op and shape; needs matplotlib, as
Debian's python3-matplotlib provides). Exits 1 when a KleidiAI row has no result or kai-run
found a wrong result.
"""
import datetime
import json
import os
import subprocess
import sys


def load(model_dir, name):
    path = os.path.join(model_dir, name + ".json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def figures(r):
    """(M4 model, C1 model, toggles, FA64-only count, exit status) of one report."""
    m = r["all"]["model"]
    return m["m4"], m["c1"], m["toggles"], m["fa64_only"], r["meta"]["exit_status"]


def kernel_of(model_dir, name):
    path = os.path.join(model_dir, name + ".txt")
    if not os.path.exists(path):
        return "?"
    for line in open(path):
        if line.startswith("kai-run ") and "kernel=" in line:
            return line.split("kernel=")[1].split()[0]
    return "?"


def pct(x):
    return "%.1f%%" % (100 * x) if x is not None else "-"


def main():
    args = sys.argv[1:]
    split = args.index("--")
    model_dir, report_dir, gbench = args[0], args[1], args[2:split]
    pairs = [p.split("|") for p in args[split + 1:]]
    os.makedirs(report_dir, exist_ok=True)

    rows, bad = [], []
    for label, ours, theirs, note in pairs:
        a, b = load(model_dir, ours), load(model_dir, theirs)
        if b is None:
            bad.append("%s: no KleidiAI result (see %s.txt)" % (label, theirs))
            continue
        b4, b1, btog, bfa, bexit = figures(b)
        if bexit != 0:
            bad.append("%s: kai-run exited %d (see %s.txt)" % (label, bexit, theirs))
        row = {"label": label, "note": note, "kernel": kernel_of(model_dir, theirs),
               "kai": {"m4": b4, "c1": b1, "toggles": btog, "fa64": bfa}}
        if a is not None:
            a4, a1, atog, afa, _ = figures(a)
            row["sme2k"] = {"m4": a4, "c1": a1, "toggles": atog, "fa64": afa}
        rows.append(row)

    fmt = "%-36s %-8s %8s %11s %8s %11s %7s %5s %9s %9s"
    head = fmt % ("op shape", "impl", "M4 eff", "M4 cycles", "C1 eff", "C1 cycles",
                  "toggles", "FA64", "KAI/ours", "KAI/ours")
    print(fmt % ("", "", "", "", "", "", "", "", "M4", "C1"))
    print(head)
    md = ["| op, shape | impl | M4 eff | M4 cycles | C1 eff | C1 cycles | toggles | "
          "FA64-only | KleidiAI / sme2k M4 | KleidiAI / sme2k C1 |",
          "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        k = r["kai"]
        s = r.get("sme2k")
        ratio = {m: (k[m]["total_cycles"] / s[m]["total_cycles"]) if s else None
                 for m in ("m4", "c1")}
        rs = {m: ("%.2fx" % ratio[m]) if ratio[m] else "-" for m in ratio}
        for impl, d in (("sme2k", s), ("KleidiAI", k)):
            if d is None:
                print(fmt % (r["label"], impl, "-", "-", "-", "-", "-", "-", "", "") +
                      "  no sme2k row")
                continue
            last = impl == "KleidiAI"
            cells = (r["label"] if impl == "sme2k" or s is None else "", impl,
                     pct(d["m4"]["efficiency"]), "%d" % d["m4"]["total_cycles"],
                     pct(d["c1"]["efficiency"]), "%d" % d["c1"]["total_cycles"],
                     "%d" % d["toggles"], "%d" % d["fa64"],
                     rs["m4"] if last else "", rs["c1"] if last else "")
            print(fmt % cells + ("  " + r["note"] if last and r["note"] else ""))
            md.append("| %s | %s |" % (r["label"] if impl == "sme2k" else "", impl) +
                      " %s | %s | %s | %s | %s | %s | %s | %s |" % cells[2:])
    print("KAI/ours: KleidiAI's modeled cycles / sme2k's (above 1: sme2k needs fewer). "
          "Efficiency: MACs at the model's peak / modeled cycles (M = 1 rows are bound by "
          "streaming the weights: compare cycles).")

    chart = os.path.join(report_dir, "bench-efficiency.png")
    chart_note = write_chart(rows, chart)
    write_markdown(report_dir, model_dir, rows, md, gbench, chart, chart_note)
    for b in bad:
        sys.stderr.write("scripts/bench: %s\n" % b)
    return 1 if bad else 0


def write_chart(rows, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "no chart: matplotlib is missing (scripts/setup installs python3-matplotlib)"
    rows = [r for r in rows if "sme2k" in r]
    labels = [r["label"] for r in rows]
    fig, axes = plt.subplots(2, 1, figsize=(max(10, 0.75 * len(rows) + 3), 9), sharex=True)
    width = 0.38
    x = range(len(rows))
    for ax, model, title in ((axes[0], "m4", "Apple M4 model"),
                             (axes[1], "c1", "Arm C1-Ultra model")):
        ours = [100 * (r["sme2k"][model]["efficiency"] or 0) for r in rows]
        theirs = [100 * (r["kai"][model]["efficiency"] or 0) for r in rows]
        b1 = ax.bar([i - width / 2 for i in x], ours, width, label="sme2k", color="#1f77b4")
        b2 = ax.bar([i + width / 2 for i in x], theirs, width, label="KleidiAI 1.8.0",
                    color="#ff7f0e")
        for bars in (b1, b2):
            for bar in bars:
                h = bar.get_height()
                ax.annotate("%.0f" % h, (bar.get_x() + bar.get_width() / 2, h),
                            ha="center", va="bottom", fontsize=7)
        ax.set_ylabel("modeled efficiency (%)")
        ax.set_ylim(0, 110)
        ax.set_title("%s, SVL 512: one op call (per-call packing / quantization included)"
                     % title, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    axes[1].set_xticks(list(x))
    axes[1].set_xticklabels(labels, rotation=35, ha="right", fontsize=8)
    fig.suptitle("sme2k vs KleidiAI: modeled efficiency (tools/insn-mix; M = 1 rows are "
                 "weight-streaming bound)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return ""


def write_markdown(report_dir, model_dir, rows, md, gbench, chart, chart_note):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    rev = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip() or "?"
    out = ["# sme2k benchmark report", "",
           "Written by `scripts/bench` on %s (commit %s). Modeled figures: `tools/insn-mix` "
           "(docs/insn-mix.md) over one op call under QEMU at SVL 512, Apple M4 and Arm "
           "C1-Ultra cycle models; no caches and no bandwidth term, 100 cycles per streaming "
           "toggle (an assumption)." % (datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
                                        rev), "",
           "## sme2k against KleidiAI", "",
           "Each call does what a runtime does per inference: sme2k's op (its activation "
           "packing or quantization inside), KleidiAI's LHS packing or dynamic quantization "
           "then its kernel over the whole output. Weights are packed before. The ratio "
           "columns are KleidiAI's modeled cycles over sme2k's: above 1, sme2k needs fewer.",
           ""] + md + [""]
    for r in rows:
        if r["note"]:
            out.append("- %s: %s" % (r["label"], r["note"]))
    out.append("")
    out.append("KleidiAI kernels: " + ", ".join(sorted(set("`%s`" % r["kernel"] for r in rows))))
    out += ["", "![modeled efficiency](%s)" % os.path.basename(chart) if not chart_note
            else chart_note, ""]
    out += ["## Every sme2k row of the modeled table", "",
            "| run | M4 eff | M4 cycles | C1 eff | C1 cycles | toggles | FA64-only |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in sorted(os.listdir(model_dir)):
        if not name.endswith(".json") or name.startswith("kai-"):
            continue
        r = json.load(open(os.path.join(model_dir, name)))
        if "model" not in r.get("all", {}) or "m4" not in r["all"]["model"]:
            continue
        m4, c1, tog, fa, _ = figures(r)
        out.append("| %s | %s | %d | %s | %d | %d | %d |" % (
            name[:-5], pct(m4["efficiency"]), m4["total_cycles"], pct(c1["efficiency"]),
            c1["total_cycles"], tog, fa))
    out += ["", "## Google Benchmark under QEMU", "",
            "Emulator time, one iteration each: these show that every benchmark runs and "
            "passes its check, not how fast a device is. On a device run "
            "`sme2k_bench --benchmark_filter='BM_gemm/(kleidiai/)?f16'` and compare.", ""]
    for path in gbench:
        if not os.path.exists(path):
            continue
        data = json.load(open(path))
        out += ["`%s`:" % os.path.basename(path), "", "| benchmark | time | unit |",
                "| --- | ---: | --- |"]
        for b in data.get("benchmarks", []):
            if b.get("error_occurred"):
                out.append("| %s | %s | |" % (b["name"], b.get("error_message", "error")))
            else:
                out.append("| %s | %.0f | %s |" % (b["name"], b.get("real_time", 0),
                                                   b.get("time_unit", "")))
        out.append("")
    with open(os.path.join(report_dir, "bench-report.md"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    sys.exit(main())
