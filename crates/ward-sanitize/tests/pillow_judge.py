"""Judges image files with Pillow, a reader independent of ward-sanitize's parsers.

Usage: python pillow_judge.py FILE...

For each file: opens it, requires the format its extension names, loads every frame (seeking
through animations), and for PNG also runs `Image.verify()` (chunk CRCs and structure) on a
fresh open. Warnings count as failures. Prints one line per file,
`ok <frames> <path>` or `FAIL <path>: <error>`, and exits 1 if any file failed.
"""

import sys
import warnings

from PIL import Image

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".webp": "WEBP"}


def judge(path):
    expected = FORMATS[path[path.rfind(".") :]]
    with Image.open(path) as im:
        if im.format != expected:
            raise ValueError(f"format {im.format}, expected {expected}")
        frames = getattr(im, "n_frames", 1)
        for i in range(frames):
            im.seek(i)
            im.load()
    if expected == "PNG":
        with Image.open(path) as im:
            im.verify()
    return frames


def main():
    failed = False
    for path in sys.argv[1:]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")
                frames = judge(path)
            print(f"ok {frames} {path}")
        except Exception as e:  # every failure is reported, whatever raised it
            failed = True
            print(f"FAIL {path}: {type(e).__name__}: {e}")
    sys.exit(1 if failed else 0)


main()
