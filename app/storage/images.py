"""Validating and normalising uploaded images with Pillow.

``process_image`` never stores or trusts the upload: it decodes it fully
(catching non-images, truncated files and decompression bombs), applies the
EXIF orientation, drops every piece of metadata (EXIF with GPS, XMP, ICC,
comments) by copying only the pixels, resizes, and re-encodes as WebP.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps, UnidentifiedImageError
from werkzeug.datastructures import FileStorage

from app.core.domain_errors import DomainError

ALLOWED_FORMATS = {"JPEG", "PNG", "WEBP", "GIF"}
OUTPUT_FORMAT = "WEBP"
OUTPUT_CONTENT_TYPE = "image/webp"
WEBP_QUALITY = 85


class ImageError(DomainError):
    """The upload is not an acceptable image; ``str(err)`` is a message for the user."""


def _read(data: bytes | FileStorage, max_bytes: int) -> bytes:
    if isinstance(data, FileStorage):
        # Read one byte past the limit: enough to know it is too big, never the whole upload.
        raw = data.stream.read(max_bytes + 1)
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
    else:
        raise ImageError("No image was uploaded.")
    if not raw:
        raise ImageError("The file is empty.")
    if len(raw) > max_bytes:
        raise ImageError(f"The image is too large (the limit is {_human(max_bytes)}).")
    return raw


def _human(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n / 1024:g} KB"


def process_image(
    data: bytes | FileStorage,
    *,
    max_bytes: int = 5 * 1024 * 1024,
    max_side: int = 1024,
    square: bool = False,
) -> tuple[bytes, str]:
    """Validate an uploaded image and return ``(webp_bytes, "image/webp")``.

    The result is at most ``max_side`` pixels on its longer side (never
    upscaled), centre-cropped to a square when ``square``, upright per its EXIF
    orientation, without metadata; animations keep their first frame.

    Raises ImageError (with a message fit for the user) for an empty or
    oversized upload, a non-image, an unsupported format (JPEG, PNG, WebP and
    GIF are accepted), a truncated or malformed file, or more pixels than
    Pillow's ``Image.MAX_IMAGE_PIXELS`` (decompression bombs).
    """
    if max_side < 1:
        raise ValueError("max_side must be positive")
    raw = _read(data, max_bytes)
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format not in ALLOWED_FORMATS:
                raise ImageError(
                    f"{img.format or 'This'} images are not supported; upload a JPEG, PNG, WebP or GIF."
                )
            width, height = img.size
            # Image.open only refuses beyond twice the limit (and warns below): refuse at the limit.
            if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
                raise ImageError("The image has too many pixels.")
            if img.format == "JPEG":
                img.draft("RGB", (max_side, max_side))  # decode at a reduced scale when possible
            img.load()
            result = _normalise(img, max_side=max_side, square=square)
    except ImageError:
        raise
    except Image.DecompressionBombError:
        raise ImageError("The image has too many pixels.") from None
    except UnidentifiedImageError:
        raise ImageError("The file is not an image.") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error) as exc:
        raise ImageError("The image is damaged or incomplete.") from exc

    out = io.BytesIO()
    result.save(out, format=OUTPUT_FORMAT, quality=WEBP_QUALITY, method=4)
    return out.getvalue(), OUTPUT_CONTENT_TYPE


def _normalise(img: Image.Image, *, max_side: int, square: bool) -> Image.Image:
    img = ImageOps.exif_transpose(img)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
    mode = "RGBA" if has_alpha else "RGB"
    # A new image with only the pixels: no EXIF, XMP, ICC profile or comments survive.
    clean = Image.new(mode, img.size)
    clean.paste(img.convert(mode))
    if square:
        side = min(min(clean.size), max_side)
        clean = ImageOps.fit(clean, (side, side), method=Image.Resampling.LANCZOS, centering=(0.5, 0.5))
    else:
        clean.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return clean
