#!/usr/bin/env python3
"""Writes runtime/text/unicode_tables.c: the code point ranges of the Unicode
classes GPT-2's pre-tokenizer pattern names (\\p{L}, \\p{N} and \\s), taken
from Python's unicodedata, so that the C side needs no regex library.

Usage: python3 tools/gen_unicode_tables.py > runtime/text/unicode_tables.c
"""

import sys
import unicodedata

MAX_CODE_POINT = 0x10FFFF

# unicodedata has no White_Space property; PropList.txt defines it as the
# space separators (Zs), the line and paragraph separators (Zl, Zp) and these
# controls: tab, line feed, vertical tab, form feed, carriage return, NEL.
WHITE_SPACE_CONTROLS = set(range(0x09, 0x0E)) | {0x85}


def is_letter(cp):
    return unicodedata.category(chr(cp)) in ("Lu", "Ll", "Lt", "Lm", "Lo")


def is_number(cp):
    return unicodedata.category(chr(cp)) in ("Nd", "Nl", "No")


def is_space(cp):
    if cp in WHITE_SPACE_CONTROLS:
        return True
    return unicodedata.category(chr(cp)) in ("Zs", "Zl", "Zp")


def ranges_of(predicate):
    """Inclusive [first, last] runs of the code points predicate accepts."""
    ranges = []
    for cp in range(MAX_CODE_POINT + 1):
        if not predicate(cp):
            continue
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return ranges


def emit_table(out, name, ranges):
    out.write("static const vkl_unicode_range %s[%d] = {\n" % (name, len(ranges)))
    line = "   "
    for first, last in ranges:
        item = " { 0x%X, 0x%X }," % (first, last)
        if len(line) + len(item) > 96:
            out.write(line + "\n")
            line = "   "
        line += item
    out.write(line + "\n};\n\n")


def lookup_function(function, table):
    return ("bool %s(uint32_t cp)\n{\n"
            "    return in_ranges(%s, sizeof %s / sizeof %s[0], cp);\n}\n"
            % (function, table, table, table))


HEADER = """\
/* GENERATED FILE: do not edit. Made by tools/gen_unicode_tables.py from
 * Python's unicodedata (Unicode %s); rerun it to update:
 *     python3 tools/gen_unicode_tables.py > runtime/text/unicode_tables.c
 * Letters are categories L*, numbers N*, spaces the White_Space property. */
#include "text/unicode_tables.h"

#include <stddef.h>

typedef struct vkl_unicode_range {
    uint32_t first;
    uint32_t last;
} vkl_unicode_range;

"""

SEARCH = """\
/* Binary search over sorted, disjoint, inclusive ranges. */
static bool in_ranges(const vkl_unicode_range *ranges, size_t count, uint32_t cp)
{
    size_t low = 0;
    size_t high = count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (ranges[middle].last < cp)
            low = middle + 1;
        else
            high = middle;
    }
    return low < count && ranges[low].first <= cp;
}

"""


def main():
    out = sys.stdout
    out.write(HEADER % unicodedata.unidata_version)
    emit_table(out, "LETTERS", ranges_of(is_letter))
    emit_table(out, "NUMBERS", ranges_of(is_number))
    emit_table(out, "SPACES", ranges_of(is_space))
    out.write(SEARCH)
    functions = [
        lookup_function("vkl_unicode_is_letter", "LETTERS"),
        lookup_function("vkl_unicode_is_number", "NUMBERS"),
        lookup_function("vkl_unicode_is_space", "SPACES"),
    ]
    out.write("\n".join(functions))

if __name__ == "__main__":
    main()
