"""Writes the JPEG variants in this folder with Pillow 12.0.0 (libjpeg-turbo inside its wheel).

Run from this folder: `python make.py`. Each file is small, has odd dimensions (so blocks and
MCUs are padded at the right and bottom edges) and picture-like content (gradients and noise).
"""

import random

from PIL import Image

W, H = 45, 31


def picture(mode):
    rng = random.Random(7)
    img = Image.new("RGB", (W, H))
    img.putdata(
        [
            ((x * 5 + rng.randrange(16)) % 256, (y * 8 + rng.randrange(16)) % 256, (x + y) * 3 % 256)
            for y in range(H)
            for x in range(W)
        ]
    )
    return img.convert(mode)


VARIANTS = {
    # name: (mode, save options)
    "baseline_420.jpg": ("RGB", dict(quality=90, subsampling=2)),
    "baseline_422.jpg": ("RGB", dict(quality=90, subsampling=1)),
    "baseline_444.jpg": ("RGB", dict(quality=90, subsampling=0)),
    "baseline_optimized.jpg": ("RGB", dict(quality=75, optimize=True)),
    "restart_blocks.jpg": ("RGB", dict(quality=90, restart_marker_blocks=1)),
    "restart_rows.jpg": ("RGB", dict(quality=90, restart_marker_rows=1)),
    "grey.jpg": ("L", dict(quality=90)),
    "cmyk_adobe.jpg": ("CMYK", dict(quality=90)),
    "progressive_420.jpg": ("RGB", dict(quality=90, progressive=True)),
    "progressive_444_restart.jpg": ("RGB", dict(quality=90, progressive=True, subsampling=0, restart_marker_blocks=2)),
    "progressive_grey.jpg": ("L", dict(quality=90, progressive=True)),
    "progressive_cmyk.jpg": ("CMYK", dict(quality=90, progressive=True)),
}

for name, (mode, options) in VARIANTS.items():
    picture(mode).save(name, "JPEG", **options)

# Sequential files with one scan per component (non-interleaved), rewritten by jpegtran (Debian
# libjpeg-turbo-progs 2.1.5) from a 50 × 34 4:2:0 picture: at that size a lone luma scan has
# 7 × 5 blocks where interleaved MCUs would cover 8 × 6. The second has restart markers every
# 3 blocks.
import os
import subprocess
import tempfile

W, H = 50, 34
with tempfile.TemporaryDirectory() as tmp:
    source = os.path.join(tmp, "source.jpg")
    scans = os.path.join(tmp, "scans.txt")
    picture("RGB").save(source, "JPEG", quality=90, subsampling=2)
    with open(scans, "w") as f:
        f.write("0;\n1;\n2;\n")
    for name, extra in [("sequential_scans.jpg", []), ("sequential_scans_restart.jpg", ["-restart", "3B"])]:
        subprocess.run(["jpegtran", "-scans", scans, *extra, "-outfile", name, source], check=True)
