"""Sums symbol sizes per crate from `nm -S --size-sort -C` output on stdin.

Generic code is attributed to the crate that defines it (`ndarray::...`,
`<tract_core::... as ...>`), which is what a size cut can act on. Prints the
top 25 crates as `bytes  share  crate`, then the total.
"""
import collections
import re
import sys

sizes = collections.Counter()
for line in sys.stdin:
    parts = line.split(None, 3)
    if len(parts) < 4:
        continue
    size = int(parts[1], 16)
    name = parts[3].strip().lstrip("<&*")
    match = re.match(r"(?:dyn |impl )?([A-Za-z_][A-Za-z0-9_]*)", name)
    sizes[match.group(1) if match else "?"] += size
total = sum(sizes.values())
for crate, size in sizes.most_common(25):
    print(f"{size:>10,}  {size / total:6.1%}  {crate}")
print(f"{total:>10,}  100.0%  (all symbols)")
