#!/usr/bin/env python3
"""Cut loops out of a RyuJIT Arm64 disassembly listing (DOTNET_JitDisasm) for llvm-mca.

Usage: arm64-loops.py LISTING METHOD KEY OUT_LOOP [OUT_REST]
       arm64-loops.py --quad LISTING METHOD KEY OUT_QUAD
  METHOD   a substring of the "; Assembly listing for method ..." line (the first match is used)
  KEY      an instruction mnemonic that marks the hot loop (e.g. cnt, fcmgt)
  OUT_LOOP the innermost loop that contains KEY: the blocks from the target of a backward branch to
           that branch (the smallest such range)
  OUT_REST the instructions that run once per iteration of the loop around it: the smallest other
           backward-branch range that overlaps the loop's last block and ends after it, minus the
           loop's blocks
--quad (the specialised binary conv): OUT_QUAD one iteration of the loop over quads in steady state, and
  prints how many quads it holds (see quad() below).
Branches are dropped (llvm-mca costs straight-line code; a taken branch is one more issue slot on the
modelled cores), the JIT's `fp` is spelled x29, and bitwise vector ops (`eor vA.2d`, `bif vA.4s`) are
spelled `.16b` (the same instructions; LLVM's assembler accepts only .8b/.16b). Plain Python 3, no packages.
"""
import re
import sys

# Branch mnemonics as the JIT prints them (conditions without a dot: bne, bge, ...); not bic/bif/bit/bsl.
BRANCH = re.compile(r"^(b|bl|blr|br|ret|cbz|cbnz|tbz|tbnz|b\.?(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al))\s")


def method_lines(path, method):
    lines, on = [], False
    for line in open(path, encoding="utf-8", errors="replace"):
        if line.startswith("; Assembly listing for method"):
            if on:
                break
            on = method in line
        elif on:
            lines.append(line.rstrip("\n"))
    if not lines:
        sys.exit(f"arm64-loops: no listing for a method containing {method!r} in {path}")
    return lines


def blocks(lines):
    """[(label, [instructions])] in listing order."""
    out, label, body = [], None, []
    for line in lines:
        m = re.match(r"^(G_M\d+_IG\d+):", line)
        if m:
            if label is not None:
                out.append((label, body))
            label, body = m.group(1), []
            continue
        text = line.split(";")[0].strip()
        if label is not None and text and not text.startswith("align") and not text.startswith("@"):
            body.append(text)
    if label is not None:
        out.append((label, body))
    return out


def back_ranges(bl):
    index = {label: i for i, (label, _) in enumerate(bl)}
    ranges = []
    for i, (_, body) in enumerate(bl):
        for ins in body:
            parts = ins.replace(",", " ").split()
            if BRANCH.match(ins) and parts[-1] in index and index[parts[-1]] <= i:
                ranges.append((index[parts[-1]], i))
    return ranges


def llvm(ins):
    ins = re.sub(r"\bfp\b", "x29", ins)
    # Bitwise vector ops are bytewise: the JIT prints them with the operation's element type (eor v0.2d,
    # bif v1.4s), LLVM's assembler accepts only .8b/.16b.
    m = re.match(r"(and|bic|orr|orn|eor|bsl|bit|bif|not|mvn)\s+(.*)$", ins)
    if m and "#" not in m.group(2):
        ins = m.group(1) + " " + re.sub(r"(v\d+)\.(2d|4s|8h)", r"\1.16b", m.group(2))
    return ins


def write(path, bl, members):
    with open(path, "w") as f:
        for i in members:
            for ins in bl[i][1]:
                if not BRANCH.match(ins):
                    f.write(llvm(ins) + "\n")


def quad(path, method, key, out_quad):
    """The loop over quads of the specialised conv in steady state: the innermost loop (backward-branch range)
    whose blocks hold n x 72 KEY instructions and n x 4 scvtf, n quads per iteration (a 64->64 layer's quad: 4
    pixels x 4 channels x 9 taps / 2 pixels per vector, and, the loop being software-pipelined, a quad's epilogue
    of 4 channels); of the innermost such loops, the one with the largest n. Prints n. Fails when there is
    none, so a changed code layout stops the estimate instead of skewing it."""
    bl = blocks(method_lines(path, method))
    count = lambda r, m: sum(ins.split()[0] == m for i in range(r[0], r[1] + 1) for ins in bl[i][1])
    loops = []
    for r in back_ranges(bl):
        k, c = count(r, key), count(r, "scvtf")
        if k and k % 72 == 0 and c == 4 * (k // 72):
            loops.append((-(k // 72), r[1] - r[0], r))
    if not loops:
        found = sorted((count(r, key), count(r, "scvtf")) for r in back_ranges(bl))
        sys.exit(f"arm64-loops: no loop in {method!r} has n x 72 {key} and n x 4 scvtf (loops have {found}): the code layout changed")
    # Innermost only (an outer loop holds the row's other quad sites too), then the most quads per iteration.
    inner = [l for l in loops if not any(o[2] != l[2] and l[2][0] <= o[2][0] and o[2][1] <= l[2][1] for o in loops)]
    n, _, r = min(inner)
    write(out_quad, bl, range(r[0], r[1] + 1))
    print(-n)


def main():
    if sys.argv[1] == "--quad":
        quad(*sys.argv[2:6])
        return
    path, method, key, out_loop = sys.argv[1:5]
    out_rest = sys.argv[5] if len(sys.argv) > 5 else None
    bl = blocks(method_lines(path, method))
    ranges = back_ranges(bl)
    has_key = lambda r: any(ins.split()[0] == key for i in range(r[0], r[1] + 1) for ins in bl[i][1])
    loops = sorted((r for r in ranges if has_key(r)), key=lambda r: r[1] - r[0])
    if not loops:
        sys.exit(f"arm64-loops: no loop with {key!r} in {method!r}")
    loop = loops[0]
    write(out_loop, bl, range(loop[0], loop[1] + 1))
    if out_rest:
        around = sorted((r for r in ranges if r != loop and r[0] <= loop[1] < r[1]), key=lambda r: r[1] - r[0])
        if not around:
            sys.exit(f"arm64-loops: no loop around the {key!r} loop in {method!r}")
        write(out_rest, bl, [i for i in range(around[0][0], around[0][1] + 1) if not loop[0] <= i <= loop[1]])


if __name__ == "__main__":
    main()
