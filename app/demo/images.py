"""Locally generated pictures for the demo: gig covers and avatars (Pillow, no downloads).

Deterministic: the same arguments give the same bytes, so ``app/demo/seed.py`` can
validate and re-encode each distinct picture once however many gigs use it.
"""

from __future__ import annotations

import io
import math
import zlib
from functools import cache

from PIL import Image, ImageDraw, ImageFont

from app.demo.local import PALETTES as LOCAL_PALETTES

GIG_SIZE = (640, 400)
AVATAR_SIDE = 256

# One palette per top category (background start, background end, ink).
PALETTES = {
    "Graphics & Design": ((236, 72, 153), (124, 58, 237), (255, 255, 255)),
    "Programming & Tech": ((15, 23, 42), (37, 99, 235), (226, 232, 240)),
    "Digital Marketing": ((249, 115, 22), (234, 179, 8), (255, 255, 255)),
    "Writing & Translation": ((245, 240, 230), (214, 200, 170), (60, 40, 20)),
    "Video & Animation": ((17, 24, 39), (220, 38, 38), (255, 255, 255)),
    "Music & Audio": ((49, 46, 129), (6, 182, 212), (255, 255, 255)),
    "Business": ((6, 78, 59), (16, 185, 129), (255, 255, 255)),
    "Data": ((30, 41, 59), (20, 184, 166), (240, 253, 250)),
}
PALETTES.update(LOCAL_PALETTES)  # the local-services demo's categories
DEFAULT_PALETTE = ((71, 85, 105), (148, 163, 184), (255, 255, 255))
AVATAR_COLOURS = [
    (14, 116, 144),
    (190, 24, 93),
    (109, 40, 217),
    (21, 128, 61),
    (180, 83, 9),
    (30, 64, 175),
    (159, 18, 57),
    (4, 120, 87),
]


@cache
def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def initials(text: str, letters: int = 2) -> str:
    words = [w for w in text.replace("&", " ").replace("/", " ").split() if w[:1].isalpha()]
    return "".join(w[0].upper() for w in words[:letters]) or "?"


def _gradient(size: tuple[int, int], start, end, angle_seed: int) -> Image.Image:
    w, h = size
    mask = Image.linear_gradient("L").rotate(angle_seed % 4 * 90 + 45, expand=False).resize(size)
    return Image.composite(Image.new("RGB", size, end), Image.new("RGB", size, start), mask)


def gig_picture(label: str, top_category: str, variant: int) -> bytes:
    """A 640x400 JPEG: a gradient in the category's colours, one of four patterns, and the label."""
    start, end, ink = PALETTES.get(top_category, DEFAULT_PALETTE)
    seed = zlib.crc32(f"{label}/{variant}".encode())
    img = _gradient(GIG_SIZE, start, end, seed)
    draw = ImageDraw.Draw(img, "RGBA")
    w, h = GIG_SIZE
    pattern = variant % 4
    soft = (*ink, 40)
    if pattern == 0:  # circles
        for i in range(9):
            r = 30 + (seed >> i) % 90
            x, y = (seed * (i + 3)) % w, (seed // (i + 7)) % h
            draw.ellipse((x - r, y - r, x + r, y + r), outline=soft, width=6)
    elif pattern == 1:  # diagonal stripes
        for x in range(-h, w, 48):
            draw.line((x, h, x + h, 0), fill=soft, width=14)
    elif pattern == 2:  # dot grid
        for x in range(24, w, 40):
            for y in range(24, h, 40):
                draw.ellipse((x - 4, y - 4, x + 4, y + 4), fill=soft)
    else:  # waves
        for k in range(6):
            points = [
                (x, h * (k + 1) / 7 + 18 * math.sin(x / 45 + k + seed % 7)) for x in range(0, w + 10, 10)
            ]
            draw.line(points, fill=soft, width=5)
    draw.rounded_rectangle((w // 2 - 120, 70, w // 2 + 120, 250), radius=28, fill=(0, 0, 0, 60))
    draw.text((w // 2, 160), initials(label), font=_font(110), fill=ink, anchor="mm")
    draw.text((w // 2, 320), label, font=_font(34), fill=ink, anchor="mm")
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88)
    return out.getvalue()


def avatar_picture(name: str) -> bytes:
    """A 256x256 PNG: the person's initials on a colour picked from their name."""
    colour = AVATAR_COLOURS[zlib.crc32(name.encode()) % len(AVATAR_COLOURS)]
    img = Image.new("RGB", (AVATAR_SIDE, AVATAR_SIDE), colour)
    draw = ImageDraw.Draw(img)
    half = AVATAR_SIDE // 2
    draw.ellipse(
        (-half // 2, half, AVATAR_SIDE + half // 2, AVATAR_SIDE * 2), fill=tuple(c // 2 for c in colour)
    )
    draw.text((half, half - 10), initials(name), font=_font(96), fill=(255, 255, 255), anchor="mm")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()
