"""process_image: accepts real images and normalises them; refuses everything else clearly."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image
from werkzeug.datastructures import FileStorage

from app.storage.images import ImageError, process_image


def _image(fmt="PNG", size=(64, 48), mode="RGB", color=(200, 30, 30), **save) -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, color).save(out, format=fmt, **save)
    return out.getvalue()


def _open(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF"])
def test_supported_formats_are_re_encoded_as_webp(fmt):
    data, content_type = process_image(_image(fmt))
    assert content_type == "image/webp"
    img = _open(data)
    assert img.format == "WEBP" and img.size == (64, 48)


def test_large_images_are_resized_to_max_side_keeping_the_aspect_ratio():
    data, _ = process_image(_image("PNG", size=(3000, 1500)), max_side=1024)
    assert _open(data).size == (1024, 512)


def test_small_images_are_never_upscaled():
    data, _ = process_image(_image("PNG", size=(100, 50)), max_side=1024)
    assert _open(data).size == (100, 50)


def test_square_crops_the_centre():
    # Left third red, middle third green, right third blue: the square keeps the green centre.
    img = Image.new("RGB", (300, 100), (255, 0, 0))
    img.paste((0, 255, 0), (100, 0, 200, 100))
    img.paste((0, 0, 255), (200, 0, 300, 100))
    out = io.BytesIO()
    img.save(out, format="PNG")
    data, _ = process_image(out.getvalue(), max_side=64, square=True)
    result = _open(data).convert("RGB")
    assert result.size == (64, 64)
    r, g, b = result.getpixel((32, 32))
    assert g > 200 and r < 60 and b < 60


def test_exif_orientation_is_applied_and_all_metadata_dropped():
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    exif[0x010F] = "SecretCam"  # Make
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPS latitude
    raw = _image("JPEG", size=(80, 40), exif=exif.tobytes(), icc_profile=b"fake-icc")
    assert _open(raw).getexif()[0x0112] == 6

    data, _ = process_image(raw)
    result = _open(data)
    assert result.size == (40, 80)  # upright
    assert not result.getexif()
    assert "icc_profile" not in result.info and "exif" not in result.info
    assert b"SecretCam" not in data


def test_transparency_survives():
    data, _ = process_image(_image("PNG", mode="RGBA", color=(0, 0, 0, 0)))
    assert _open(data).mode == "RGBA"


def test_file_storage_uploads_are_accepted():
    upload = FileStorage(io.BytesIO(_image("PNG")), filename="me.png", content_type="image/png")
    data, content_type = process_image(upload)
    assert content_type == "image/webp" and _open(data).size == (64, 48)


def test_oversized_upload_is_refused_before_decoding():
    raw = _image("PNG", size=(64, 64))
    with pytest.raises(ImageError, match="too large"):
        process_image(raw, max_bytes=len(raw) - 1)
    upload = FileStorage(io.BytesIO(raw + b"\0" * 10_000), filename="big.png")
    with pytest.raises(ImageError, match="too large"):
        process_image(upload, max_bytes=len(raw))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"just some text, not a picture", "not an image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "not an image"),
        (b"%PDF-1.7\n1 0 obj << >> endobj\n", "not an image"),
    ],
)
def test_non_images_are_refused(data, message):
    with pytest.raises(ImageError, match=message):
        process_image(data)


def test_unsupported_image_formats_are_refused():
    with pytest.raises(ImageError, match="not supported"):
        process_image(_image("BMP"))
    with pytest.raises(ImageError, match="not supported"):
        process_image(_image("TIFF"))


def test_truncated_images_are_refused():
    noisy = Image.effect_noise((300, 300), 100).convert("RGB")  # needs the whole stream to decode
    out = io.BytesIO()
    noisy.save(out, format="PNG")
    raw = out.getvalue()
    with pytest.raises(ImageError, match="damaged or incomplete"):
        process_image(raw[: len(raw) // 2])
    jpeg = io.BytesIO()
    noisy.save(jpeg, format="JPEG")
    with pytest.raises(ImageError, match="damaged or incomplete"):
        process_image(jpeg.getvalue()[: len(jpeg.getvalue()) // 2])


def test_malformed_images_are_refused():
    raw = bytearray(_image("PNG", size=(50, 50)))
    raw[40:60] = b"\xff" * 20  # clobber the compressed data
    with pytest.raises(ImageError):
        process_image(bytes(raw))


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` pixels in a few bytes: a decompression bomb's shape."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bombs_are_refused():
    with pytest.raises(ImageError, match="too many pixels"):
        process_image(_png_header_only(100_000, 100_000))  # far beyond Pillow's limit
    limit = Image.MAX_IMAGE_PIXELS
    with pytest.raises(ImageError, match="too many pixels"):
        process_image(_png_header_only(limit // 1000 + 1, 1000))  # just over: Pillow only warns here


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_real_bomb_under_a_lowered_limit_is_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100 * 100)
    with pytest.raises(ImageError, match="too many pixels"):
        process_image(_image("PNG", size=(200, 200)))
    with pytest.raises(ImageError, match="too many pixels"):
        process_image(_image("PNG", size=(101, 100)))
