#!/usr/bin/env python3
"""The link order of skiff's functions, from text-trace's address lists.

    order.py BINARY MAPFILE SCRIPT TRACE... > skiff.order

Each trace lists, per process, the addresses it ran ("PID ADDRESS"). Functions that
more of a command's processes ran come first (start-up, then what the re-exec and the
container's init share), then the rest; among those a process ran alone, the later
process's (the init's) before the first one's; each group in the order the functions
first ran; the traces' new functions follow one another in the order they are given.
Every process faults in the pages it runs, so each one's code should be packed. A
function that shares its input section with others cannot move alone: libswiftCore's
local functions, for one, share a 1.6 MB .text. Such big sections go last, so that
they do not split the hot code around them.

Code the traces ran that has no symbol to name it (LLVM's unnamed functions, a crt
object's code with symbols of no size) cannot be ordered by name: SCRIPT is written with
a linker script that puts those input sections in an output section before .text.
"""
import bisect
import subprocess
import sys

from linkmap import BIG_SECTION, script_pattern, text_sections

# How far back to look for the function holding an address past symbols inside it.
MAX_INNER_SYMBOLS = 64


def functions(binary):
    """(start, size, name) of every function symbol, sorted by address."""
    out = subprocess.run(["nm", "-n", "-S", "--defined-only", binary],
                         capture_output=True, text=True, check=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTWw":
            syms.append((int(parts[0], 16), int(parts[1], 16), parts[3]))
    syms.sort()
    return syms


def containing(syms, starts, addr):
    """The start of the function that holds addr, or None. The nearest symbol below it
    may be a label inside that function (no size, or a smaller extent), so look back."""
    i = bisect.bisect_right(starts, addr) - 1
    for j in range(i, max(i - MAX_INNER_SYMBOLS, -1), -1):
        start, size, _ = syms[j]
        if start <= addr < start + size:
            return start
    return None


def big_sections(mapfile):
    """Address ranges of the input sections of .text larger than BIG_SECTION."""
    return [(vma, vma + size) for vma, size, _, _, _ in text_sections(mapfile) if size > BIG_SECTION]


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: order.py BINARY MAPFILE SCRIPT TRACE... > ORDER")
    syms = functions(sys.argv[1])
    starts = [s[0] for s in syms]
    big = big_sections(sys.argv[2])
    sections = text_sections(sys.argv[2])
    section_starts = [s[0] for s in sections]
    unnamed = []
    small_order, big_order, placed = [], [], set()
    for trace in sys.argv[4:]:
        processes, first = {}, {}   # function start -> pids that ran it, first-run rank
        rank = {}                   # pid -> the order the processes first appear in
        for line in open(trace):
            pid, hexaddr = line.split()
            addr = int(hexaddr, 16)
            start = containing(syms, starts, addr)
            if start is None:
                i = bisect.bisect_right(section_starts, addr) - 1
                if i >= 0 and addr < sections[i][0] + sections[i][1] and not sections[i][4] \
                        and sections[i][1] <= BIG_SECTION and sections[i][3] not in unnamed:
                    unnamed.append(sections[i][3])
                continue
            processes.setdefault(start, set()).add(pid)
            first.setdefault(start, len(first))
            rank.setdefault(pid, len(rank))
        # Within a count, what the later processes ran (the container's init, exec's
        # process) before what only the first (the command itself) ran: the init's own
        # code then follows the shared code instead of being strewn through the parent's.
        for start in sorted(first, key=lambda f: (-len(processes[f]), -max(rank[p] for p in processes[f]), first[f])):
            in_big = any(lo <= start < hi for lo, hi in big)
            # Every name at the address: identical functions are folded into one.
            i = bisect.bisect_left(starts, start)
            while i < len(syms) and syms[i][0] == start:
                name = syms[i][2]
                if syms[i][1] > 0 and name not in placed:
                    placed.add(name)
                    (big_order if in_big else small_order).append(name)
                i += 1
    for name in small_order + big_order:
        print(name)
    with open(sys.argv[3], "w") as script:
        script.write("/* Written by scripts/link-order/order.py: the code the start path runs that has\n"
                     "   no symbol to order it by, before .text (see order.py). */\n"
                     "SECTIONS {\n  .text.skiff_unnamed : {\n")
        for section in unnamed:
            script.write(f"    {script_pattern(section)}\n")
        script.write("  }\n} INSERT BEFORE .text;\n")
    print(f"order.py: {len(small_order)} functions, then {len(big_order)} in "
          f"{len(big)} big sections; {len(unnamed)} unnamed sections", file=sys.stderr)


if __name__ == "__main__":
    main()
