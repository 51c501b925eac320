#!/usr/bin/env python3
"""Where libswiftCore's big text section starts, chosen: cold functions put before it.

    pad.py TRACED_MAP LINKED_MAP ORDER TRACE... > PADDED_ORDER

libswiftCore's functions share one 1.6 MB input section (Swift.o's .text) that the order
cannot rearrange, and the kernel maps code a 64 KB window per fault: how many windows the
start path's stdlib functions fall into depends on where that section starts modulo 64 KB
(11 to 16 for `run`'s parent). TRACED_MAP is the map of the binary the TRACEs were taken
from (it gives each traced address as an offset into the section); LINKED_MAP the map of
the binary linked with ORDER (where the section starts now, and which functions nothing
traced ran). The start that touches the fewest windows summed over the traced processes is
reached by naming cold functions, enough of them, between ORDER's small sections and its
big ones. Prints the new order; what it chose on stderr.
"""
import collections
import sys

from linkmap import BIG_SECTION, text_sections

# The kernel's fault-around window (fault_around_bytes).
WINDOW = 64 * 1024
# Candidate starts tried, this far apart (the section is 16-byte aligned, so offsets are
# kept to 16-byte granules without changing which window they fall in).
STEP = 256
GRANULE = 16
SECTION = "libswiftCore.a(Swift.o):(.text)"


def the_section(sections):
    for s in sections:
        if s[3].endswith(SECTION):
            return s
    sys.exit(f"pad.py: no {SECTION} in the map")


def align_up(x, a):
    return (x + a - 1) // a * a


def main():
    if len(sys.argv) < 5:
        sys.exit("usage: pad.py TRACED_MAP LINKED_MAP ORDER TRACE... > PADDED_ORDER")
    traced, linked = text_sections(sys.argv[1]), text_sections(sys.argv[2])
    order = [line.strip() for line in open(sys.argv[3]) if line.strip()]
    base0, size, _, _, _ = the_section(traced)
    base1, _, swift_align, _, _ = the_section(linked)

    # Each traced process's offsets into the section.
    offsets = collections.defaultdict(set)
    for trace in sys.argv[4:]:
        for line in open(trace):
            pid, hexaddr = line.split()
            addr = int(hexaddr, 16)
            if base0 <= addr < base0 + size:
                offsets[(trace, pid)].add(addr - base0)
    granules = [sorted({o // GRANULE * GRANULE for o in offs}) for offs in offsets.values()]

    def windows(start):
        return sum(len({(start + o) // WINDOW for o in gs}) for gs in granules)

    pad = min(range(0, WINDOW, STEP), key=lambda p: (windows(base1 + p), p))
    target = base1 + pad

    # What ends right before the section now, and the functions nothing ran: the ones
    # after the big sections (ORDER does not name them), named once in the binary.
    before = [s for s in linked if s[0] < base1]
    end = max(s[0] + s[1] for s in before) if before else base1
    big_end = max(s[0] + s[1] for s in linked if s[1] > BIG_SECTION)
    count = collections.Counter(sym for s in linked for sym in s[4])
    cold = [s for s in linked if s[0] >= big_end and s[1] <= BIG_SECTION and s[4]
            and count[s[4][0]] == 1]
    cold.sort(key=lambda s: -s[1])
    fillers, cur = [], end
    for vma, sz, al, _, syms in cold:
        after = align_up(cur, max(al, 1)) + sz
        if align_up(after, swift_align) <= target:
            fillers.append(syms[0])
            cur = after
        if align_up(cur, swift_align) == target:
            break
    reached = align_up(cur, swift_align)

    # The fillers go where the big sections' names begin.
    big_names = {sym for s in linked if s[1] > BIG_SECTION for sym in s[4]}
    cut = next((i for i, name in enumerate(order) if name in big_names), len(order))
    for name in order[:cut] + fillers + order[cut:]:
        print(name)
    print(f"pad.py: {SECTION} at {base1:#x} -> {reached:#x} (planned {target:#x}): "
          f"{windows(base1)} -> {windows(reached)} windows over {len(granules)} traced processes, "
          f"{len(fillers)} cold functions before it", file=sys.stderr)


if __name__ == "__main__":
    main()
