#!/usr/bin/python3
"""Writes the small test fixtures of tests/unit/test_extract_*.cpp.

Run with Debian's Python (numpy + Pillow: apt-get install python3-numpy
python3-pil): /usr/bin/python3 tests/data/extract/make_fixtures.py
The outputs are committed; tests do not need Python.

  cmyk.jpg            16x16 CMYK JPEG (OpenCV cannot write CMYK): top half
                      red, bottom half green.
  exif_rot6.jpg       stored 16 wide x 8 high, left half red, right half blue,
                      EXIF Orientation 6: shown upright it is 8 x 16, red on top.
  resample_src.png    24 x 17 random RGB: input of the Pillow-parity tests.
  pil_<filter>_<W>x<H>.png   Pillow's Image.resize of resample_src.png.
  pil_gray_bilinear_10x7.png  the same for the image converted to "L".
"""
import os
import numpy as np
from PIL import Image

here = os.path.dirname(os.path.abspath(__file__))

cmyk = Image.new("CMYK", (16, 16))
cmyk.paste((0, 255, 255, 0), (0, 0, 16, 8))      # red
cmyk.paste((255, 0, 255, 0), (0, 8, 16, 16))     # green
cmyk.save(os.path.join(here, "cmyk.jpg"), quality=95)

rot = Image.new("RGB", (16, 8))
rot.paste((255, 0, 0), (0, 0, 8, 8))
rot.paste((0, 0, 255), (8, 0, 16, 8))
exif = Image.Exif()
exif[0x0112] = 6
rot.save(os.path.join(here, "exif_rot6.jpg"), quality=95, exif=exif.tobytes())

rng = np.random.RandomState(1234)
src = Image.fromarray(rng.randint(0, 256, size=(17, 24, 3), dtype=np.uint8), "RGB")
src.save(os.path.join(here, "resample_src.png"))
filters = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "area": Image.BOX, "lanczos": Image.LANCZOS}
for name, f in filters.items():
    for w, h in [(10, 7), (7, 10), (37, 29), (24, 9)]:
        src.resize((w, h), f).save(os.path.join(here, f"pil_{name}_{w}x{h}.png"))
src.convert("L").resize((10, 7), Image.BILINEAR).save(os.path.join(here, "pil_gray_bilinear_10x7.png"))
