#!/usr/bin/env bash
# Build the release skiff binary and print its path on stdout.
# skiff is linked as a fully static executable: no dynamic loader or Swift
# runtime .so lookups on every container start.
# Build output goes to stderr so callers can do: skiff=$(scripts/build.sh)
# Extra arguments are passed through to `swift build`.
set -euo pipefail

cd "$(dirname "$0")/.."

# Concrete type metadata through direct accessors, not by demangling its mangled name at
# first use: the demangling was half of every command's Swift start-up (perf).
order=scripts/link-order/skiff.order
unnamed=scripts/link-order/skiff-unnamed.ld
flags=(-Xswiftc -static-executable
       -Xswiftc -Xfrontend -Xswiftc -disable-concrete-type-metadata-mangled-name-accessors)
# The code a container's start runs, packed together (scripts/link-order/generate.sh):
# each function in a section of its own, laid out by lld in the order the start path
# first runs them (what has no symbol to be ordered by goes before .text, by a linker
# script). The kernel maps code a neighbourhood per page fault, so scattered code costs
# faults and RSS in every skiff process (5.4 MB RSS before, 3.1 MB after).
# The page cache hands out the binary in folios (64 KB here) aligned by file offset, and a
# fault maps the folio: segments are laid out with address = offset modulo that size, so
# that the 64 KB windows the order and the padding count (pad.py) are the folios.
fault_window=65536
flags+=(-Xswiftc -Xfrontend -Xswiftc -function-sections -Xcc -ffunction-sections
        -Xswiftc -use-ld=lld
        -Xlinker "--symbol-ordering-file=$PWD/$order"
        -Xlinker --no-warn-symbol-ordering
        -Xlinker -T -Xlinker "$PWD/$unnamed"
        -Xlinker -z -Xlinker "max-page-size=$fault_window")
bin=$(swift build -c release --show-bin-path)/skiff
# SwiftPM does not know the order files are inputs: relink when one changed.
if [[ -e $bin && ( $order -nt $bin || $unnamed -nt $bin ) ]]; then rm -f "$bin"; fi
swift build -c release "${flags[@]}" --product skiff "$@" >&2
echo "$bin"
