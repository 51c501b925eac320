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
    """Input sections of .text (and of the .text.* output sections a linker script adds
    before it) in address order: (vma, size, align, name, [symbols of nonzero size])."""
    sections, in_text = [], False
    for line in open(path):
        parts = line.split()
        if len(parts) < 5 or len(line) <= MAP_COLUMNS:
            continue
        name = line[MAP_COLUMNS:].rstrip("\n")
        indent = len(name) - len(name.lstrip())
        if indent == 0:
            in_text = name == ".text" or name.startswith(".text.")
        elif in_text and indent == INPUT_SECTION_INDENT:
            sections.append((int(parts[0], 16), int(parts[2], 16), int(parts[3]), name.strip(), []))
        elif in_text and indent == SYMBOL_INDENT and sections and int(parts[2], 16) > 0:
            sections[-1][4].append(name.strip())
    return sections


def script_pattern(section):
    """A linker-script input section description for an input section's map name:
    ".../SkiffRuntime.build/Spec.swift.o:(.text..L__unnamed_4)" is
    "*/SkiffRuntime.build/Spec.swift.o(.text..L__unnamed_4)", an archive member
    "*libswiftCore.a:Swift.o(...)". The build's own objects keep their module's directory
(modules repeat file names); others only their name (a compiler's versioned directory)."""
    path, _, rest = section.partition(":(")
    if path.endswith(")") and "(" in path:
        archive, _, member = path[:-1].partition("(")
        where = "*" + archive.rsplit("/", 1)[-1] + ":" + member
    elif "/.build/" in path:
        where = "*/" + "/".join(path.rsplit("/", 2)[-2:])
    else:
        where = "*/" + path.rsplit("/", 1)[-1]
    return f"{where}({rest[:-1]})"
