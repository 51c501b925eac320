"""lld's -Map output, as order.py and pad.py read it."""

# The width of -Map's address, size and alignment columns: VMA LMA SIZE ALIGN, then a
# name indented 0 for an output section, 8 for an input section, 16 for a symbol.
MAP_COLUMNS = 16 + 1 + 16 + 1 + 8 + 1 + 5 + 1
INPUT_SECTION_INDENT = 8
SYMBOL_INDENT = 16
# An input section of .text larger than this holds many functions (a library's whole
# .text): ordering it places all of it.
BIG_SECTION = 64 * 1024


def text_sections(path):
    """Input sections of .text in address order: (vma, size, align, name, [symbols])."""
    sections, in_text = [], False
    for line in open(path):
        parts = line.split()
        if len(parts) < 5 or len(line) <= MAP_COLUMNS:
            continue
        name = line[MAP_COLUMNS:].rstrip("\n")
        indent = len(name) - len(name.lstrip())
        if indent == 0:
            in_text = name == ".text"
        elif in_text and indent == INPUT_SECTION_INDENT:
            sections.append((int(parts[0], 16), int(parts[2], 16), int(parts[3]), name.strip(), []))
        elif in_text and indent == SYMBOL_INDENT and sections and int(parts[2], 16) > 0:
            sections[-1][4].append(name.strip())
    return sections
