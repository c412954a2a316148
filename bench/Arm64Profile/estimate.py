#!/usr/bin/env python3
"""Static Arm64 cycle estimate of one profiled run (bench/arm64-profile.sh; Python 3 standard library only).

Inputs: the llvm-mca-ready listing of the executable (llvm-objdump -d --no-show-raw-insn) and the
translation-block counts of the profiled window (tbcount.c's output: "tb LINKADDR NINSNS COUNT").
Blocks that qemu cut out of straight code are joined again (join_cut_blocks). Each distinct block
[LINKADDR, LINKADDR + 4 * NINSNS) is cut from the listing, its branches dropped, and
costed by llvm-mca in steady state (Total Cycles / iterations), once per scheduling model; all blocks go
through one llvm-mca run per model as separate code regions, and the costs are cached in WORK/mca-cache.json
(keyed by model and instruction text), so a rerun or a second model of the same executable costs little.
Estimated cycles = sum over blocks of executions x cost. Prints a table per method and the totals;
writes every block to WORK/<label>-blocks.tsv.
"""
import argparse
import bisect
import hashlib
import json
import os
import re
import subprocess
import sys

BRANCH = re.compile(r"^(b|bl|br|blr|ret|cbz|cbnz|tbz|tbnz|b\.[a-z]+|braa|brab|blraa|blrab|retaa|retab)$")
LINE = re.compile(r"^\s*([0-9a-f]+):\s+(\S+)(?:\s+(.*))?$")
LABEL = re.compile(r"^([0-9a-f]+) <(.*)>:$")


def read_listing(path):
    """addr -> (mnemonic, operands) and the sorted symbol starts."""
    insns, syms = {}, []
    with open(path) as f:
        for line in f:
            m = LABEL.match(line)
            if m:
                syms.append((int(m.group(1), 16), m.group(2)))
                continue
            m = LINE.match(line)
            if m:
                ops = m.group(3) or ""
                ops = re.sub(r"\s*<[^>]*>\s*$", "", ops)      # "<symbol+off>" after an address
                ops = re.sub(r"\s*//.*$", "", ops).strip()     # objdump's comments
                insns[int(m.group(1), 16)] = (m.group(2), ops)
    syms.sort()
    return insns, syms


def read_counts(path):
    blocks, markers, bias = {}, None, None
    with open(path) as f:
        for line in f:
            p = line.split()
            if not p:
                continue
            if p[0] == "markers":
                markers = int(p[1])
            elif p[0] == "bias":
                bias = p[1]
            elif p[0] == "tb":
                key = (int(p[1], 16), int(p[2]))
                blocks[key] = blocks.get(key, 0) + int(p[3])
    return blocks, markers, bias


def join_cut_blocks(blocks, insns):
    """qemu ends a translation block not only at a branch but also at a page boundary or when its TCG buffer
    is full (sooner with the plugin's instrumentation), so one long straight run of code can come as two or
    more blocks. Costed apart, llvm-mca would overlap nothing across the cut. A block that does not end in a
    branch always falls into the one after it; when that one starts there and runs as often, they are one
    run of code and are joined (and costed together)."""
    out, joined = {}, 0
    items = sorted(blocks.items())
    i = 0
    while i < len(items):
        (addr, n), count = items[i]
        while i + 1 < len(items):
            (nxt, m), c2 = items[i + 1]
            last = insns.get(addr + 4 * (n - 1))
            if nxt != addr + 4 * n or c2 != count or last is None or BRANCH.match(last[0]):
                break
            n += m
            joined += 1
            i += 1
        out[(addr, n)] = out.get((addr, n), 0) + count
        i += 1
    return out, joined


def short(sym):
    s = sym.replace("Arm64Profile_Bbcu_Arm64Profile_", "M:").replace("Bbcu_Runtime_Bbcu_", "R:")
    s = s.replace("S_P_CoreLib_System_", "C:").replace("__", ".")
    return s


def kind(sym):
    if sym.startswith("Bbcu_Runtime_"):
        return "runtime"
    if sym.startswith("Arm64Profile_"):
        return "model"
    return "other"


def mca(texts, cpu, iterations, work, cache):
    """(cycles per iteration in steady state, Block RThroughput) of each text (a list of instruction lines)
    on one model, with the cache."""
    keys = [hashlib.sha1(("v2|%s|%d|%s" % (cpu, iterations, "\n".join(t))).encode()).hexdigest() for t in texts]
    todo = sorted({k: t for k, t in zip(keys, texts) if k not in cache and t}.items())
    replaced = {}
    while todo:
        src = os.path.join(work, "mca-%s.s" % cpu)
        with open(src, "w") as f:
            for k, t in todo:
                f.write("# LLVM-MCA-BEGIN %s\n%s\n# LLVM-MCA-END\n" % (k, "\n".join(t)))
        r = subprocess.run(["llvm-mca", "-mtriple=aarch64", "-mcpu=" + cpu, "-mattr=+lse,+rcpc,+dotprod,+crc",
                            "-iterations=%d" % iterations, "-all-views=false", "-summary-view", src],
                           capture_output=True, text=True)
        if r.returncode != 0:
            # An instruction the model has no scheduling data for (or cannot parse): cost it as a nop and retry.
            m = re.search(r"note: instruction:\s*(\S+)", r.stderr) or re.search(r"error: .*\n\s*(\S+)", r.stderr)
            if not m:
                sys.exit("estimate: llvm-mca failed:\n" + r.stderr[-2000:])
            bad = m.group(1)
            replaced[bad] = replaced.get(bad, 0) + 1
            if replaced[bad] > 1:
                sys.exit("estimate: llvm-mca keeps failing on %s:\n%s" % (bad, r.stderr[-2000:]))
            todo = [(k, [("nop" if l.split()[0] == bad else l) for l in t]) for k, t in todo]
            continue
        regions = re.split(r"\n\[\d+\] Code Region - ", "\n" + r.stdout)[1:]
        if len(regions) != len(todo):
            sys.exit("estimate: llvm-mca returned %d regions for %d blocks" % (len(regions), len(todo)))
        for reg in regions:
            name = reg.split("\n", 1)[0].strip()
            cyc = re.search(r"Total Cycles:\s+(\d+)", reg)
            rth = re.search(r"Block RThroughput:\s+([0-9.]+)", reg)
            cache[name] = [int(cyc.group(1)) / iterations, float(rth.group(1))]
        todo = []
    for bad, _ in replaced.items():
        print("note: %s: llvm-mca has no data for '%s'; costed as a nop" % (cpu, bad), file=sys.stderr)
    return [cache.get(k, [0.0, 0.0]) for k in keys]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listing", required=True)
    ap.add_argument("--counts", required=True)
    ap.add_argument("--label", required=True)
    ap.add_argument("--pixels", type=int, required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--cpus", default="cortex-a57,cortex-a55")
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--ghz", type=float, default=2.15)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--ref-ms", type=float, help="a reference time to compare the runtime + model total with")
    ap.add_argument("--ref-name", default="reference")
    a = ap.parse_args()
    cpus = a.cpus.split(",")

    insns, syms = read_listing(a.listing)
    starts = [s for s, _ in syms]
    blocks, markers, bias = read_counts(a.counts)
    if markers != 2:
        sys.exit("estimate: the profiled window was not closed (markers %s): the marker addresses or the load bias are wrong" % markers)

    blocks, joined = join_cut_blocks(blocks, insns)
    rows = []  # (addr, n, count, sym, text, all_insns_known)
    for (addr, n), count in sorted(blocks.items()):
        lines = [insns.get(addr + 4 * i) for i in range(n)]
        if any(l is None for l in lines) or not starts or addr < starts[0]:
            rows.append((addr, n, count, "[outside the executable: libc, loader]", [], False))
            continue
        sym = syms[bisect.bisect_right(starts, addr) - 1][1]
        text = ["%s %s" % (mn, ops) if ops else mn for mn, ops in lines if not BRANCH.match(mn)]
        rows.append((addr, n, count, sym, text, True))

    cache_path = os.path.join(a.work, "mca-cache.json")
    cache = json.load(open(cache_path)) if os.path.exists(cache_path) else {}
    costs = {cpu: mca([r[4] for r in rows], cpu, a.iterations, a.work, cache) for cpu in cpus}
    with open(cache_path + ".tmp", "w") as f:
        json.dump(cache, f)
    os.replace(cache_path + ".tmp", cache_path)

    with open(os.path.join(a.work, "%s-blocks.tsv" % a.label), "w") as f:
        f.write("addr\tninsns\texecutions\t%s\tsymbol\tinstructions (branches dropped)\n" % "\t".join("cycles/exec " + c for c in cpus))
        for i, (addr, n, count, sym, text, _) in enumerate(rows):
            f.write("%x\t%d\t%d\t%s\t%s\t%s\n" % (addr, n, count, "\t".join("%.2f" % costs[c][i][0] for c in cpus), sym, "; ".join(text)))

    per = {}
    for i, (addr, n, count, sym, text, known) in enumerate(rows):
        e = per.setdefault(sym, {"exec": 0, "insns": 0, "known": known, **{c: 0.0 for c in cpus}, **{c + "/rt": 0.0 for c in cpus}})
        e["exec"] += count
        e["insns"] += count * n
        for c in cpus:
            e[c] += count * costs[c][i][0]
            e[c + "/rt"] += count * costs[c][i][1]
    c0 = cpus[0]
    total = {k: sum(e[k] for e in per.values()) for k in ["exec", "insns"] + cpus}
    px = a.pixels

    print("%s: %d pixels; per method (the profiled run only), sorted by %s cycles:" % (a.label, px, c0))
    hdr = "%6s  %-64s %12s %14s %9s %10s" % ("share", "method", "TB execs", "instructions", "insn/px", "cyc/px " + c0[7:])
    for c in cpus[1:]:
        hdr += " %10s" % ("cyc/px " + c[7:])
    print(hdr)
    ordered = sorted(per.items(), key=lambda kv: (-kv[1][c0], -kv[1]["insns"]))
    shown = ordered[:a.top]
    rest = ordered[a.top:]
    for sym, e in shown:
        line = "%5.1f%%  %-64s %12d %14d %9.1f %10.1f" % (100 * e[c0] / total[c0] if total[c0] else 0, short(sym)[:64],
                                                        e["exec"], e["insns"], e["insns"] / px, e[c0] / px)
        for c in cpus[1:]:
            line += " %10.1f" % (e[c] / px)
        if not e["known"]:
            line += "  (not costed)"
        print(line)
    if rest:
        r = {k: sum(e[k] for _, e in rest) for k in ["exec", "insns"] + cpus}
        line = "%5.1f%%  %-64s %12d %14d %9.1f %10.1f" % (100 * r[c0] / total[c0] if total[c0] else 0, "(%d more methods)" % len(rest),
                                                        r["exec"], r["insns"], r["insns"] / px, r[c0] / px)
        for c in cpus[1:]:
            line += " %10.1f" % (r[c] / px)
        print(line)

    print()
    print("%-26s %14s %9s  %-11s %10s %10s %6s %13s" % ("totals", "instructions", "insn/px", "model", "cyc/px", "ms@%.2fGHz" % a.ghz, "IPC", "bound cyc/px"))
    groups = [("runtime + model code", lambda s: kind(s) in ("runtime", "model")), ("everything in the window", lambda s: True)]
    for name, pred in groups:
        g = {k: sum(e[k] for s, e in per.items() if pred(s)) for k in ["insns"] + cpus + [c + "/rt" for c in cpus]}
        for j, c in enumerate(cpus):
            lead = ("%-26s %14d %9.1f" % (name, g["insns"], g["insns"] / px)) if j == 0 else "%-26s %14s %9s" % ("", "", "")
            print("%s  %-11s %10.1f %10.3f %6.2f %13.1f" % (lead, c, g[c] / px, g[c] / (a.ghz * 1e6), g["insns"] / g[c] if g[c] else 0, g[c + "/rt"] / px))
        if a.ref_ms and name.startswith("runtime"):
            ref = "; ".join("%s %.2fx" % (c, g[c] / (a.ghz * 1e6) / a.ref_ms) for c in cpus)
            refline = "runtime + model code vs %s (%.2f ms): %s" % (a.ref_name, a.ref_ms, ref)
    if a.ref_ms:
        print(refline)
    unc = sum(e["insns"] for e in per.values() if not e["known"])
    print("bound: the resource bound (llvm-mca's Block RThroughput: dependencies ignored), a lower bound of the model's cycles")
    print("distinct blocks %d (%d methods; %d cuts qemu made in straight code joined); instructions outside the executable (not costed): %d (%.4f%%)"
          % (len(rows), len(per), joined, unc, 100.0 * unc / total["insns"] if total["insns"] else 0))


if __name__ == "__main__":
    main()
