"""gateway.media: real encodes and decodes with PyAV and Pillow, no mocks."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest
from PIL import Image

from gateway.media import (
    DecodedMedia,
    MediaError,
    UndecodableMedia,
    UnsupportedMediaType,
    decode_media,
    encode_mp4,
    probe_mp4,
    sniff_mime,
    thumbnail_jpeg,
    top_level_boxes,
)


def moving_gradient(frames: int = 24, height: int = 128, width: int = 128) -> np.ndarray:
    """A smooth gradient that drifts right a few pixels per frame: easy to compress, easy to compare."""
    t = np.arange(frames)[:, None, None]
    y = np.arange(height)[None, :, None]
    x = np.arange(width)[None, None, :]
    red = (x * 2 + t * 4) % 256
    green = (y * 2 + 0 * x + 0 * t) % 256
    blue = (x + y + t * 3) % 256
    return np.stack(np.broadcast_arrays(red, green, blue), axis=-1).astype(np.uint8)


@pytest.fixture(scope="module")
def clip() -> np.ndarray:
    return moving_gradient()


@pytest.fixture(scope="module")
def mp4(clip) -> bytes:
    return encode_mp4(clip, 24.0)


def image_bytes(array: np.ndarray, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, format=fmt, **kwargs)
    return out.getvalue()


# --- encoding -------------------------------------------------------------------


def test_encode_mp4_writes_real_h264_with_faststart(mp4):
    info = probe_mp4(mp4)
    assert info["codec"] == "h264"
    assert info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"]) == (128, 128)
    assert info["frames"] == 24
    assert info["fps"] == pytest.approx(24.0)
    assert info["duration"] == pytest.approx(1.0, abs=0.05)
    assert info["faststart"] is True
    assert mp4[4:8] == b"ftyp"
    boxes = [box_type for box_type, _, _ in top_level_boxes(mp4)]
    assert boxes.index("moov") < boxes.index("mdat")


def test_encode_mp4_pads_odd_sizes_to_even(clip):
    info = probe_mp4(encode_mp4(clip[:4, :127, :101], 30000 / 1001))
    assert (info["width"], info["height"]) == (102, 128)
    assert info["fps"] == pytest.approx(29.97, abs=0.01)
    assert info["frames"] == 4


@pytest.mark.parametrize(
    "frames, fps, error",
    [
        (np.zeros((4, 16, 16), np.uint8), 24, ValueError),  # no channel axis
        (np.zeros((4, 16, 16, 4), np.uint8), 24, ValueError),  # RGBA
        (np.zeros((4, 16, 16, 3), np.float32), 24, ValueError),  # not uint8
        (np.zeros((0, 16, 16, 3), np.uint8), 24, ValueError),  # no frames
        (np.zeros((4, 16, 16, 3), np.uint8), 0, ValueError),
        (np.zeros((4, 16, 16, 3), np.uint8), float("nan"), ValueError),
        ([[0]], 24, TypeError),
    ],
)
def test_encode_mp4_rejects_bad_input(frames, fps, error):
    with pytest.raises(error):
        encode_mp4(frames, fps)


# --- decoding -------------------------------------------------------------------


def test_decode_round_trip_keeps_frames_size_rate_and_colours(clip, mp4):
    decoded = decode_media(mp4)
    assert isinstance(decoded, DecodedMedia)
    assert decoded.mime == "video/mp4"
    assert decoded.is_image is False
    assert decoded.fps == pytest.approx(24.0)
    assert decoded.frames.shape == clip.shape
    assert decoded.frames.dtype == np.uint8
    # crf 18 on a smooth gradient: a few levels of error at most; a colour-matrix
    # mismatch between encode and decode (BT.601 vs BT.709) would be far larger.
    assert np.abs(decoded.frames.astype(int) - clip.astype(int)).mean() < 4


def test_decode_stops_at_max_frames_and_downscales_keeping_aspect():
    frames = moving_gradient(frames=6, height=96, width=192)
    decoded = decode_media(encode_mp4(frames, 12.0), max_frames=4, max_pixels=48 * 24)
    assert decoded.frames.shape == (4, 24, 48, 3)


def test_decode_webm_video():
    out = io.BytesIO()
    with av.open(out, mode="w", format="webm") as container:
        stream = container.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for rgb in moving_gradient(frames=5, height=48, width=64):
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    data = out.getvalue()
    assert sniff_mime(data) == "video/webm"
    decoded = decode_media(data)
    assert decoded.frames.shape == (5, 48, 64, 3)
    assert decoded.mime == "video/webm"


@pytest.mark.parametrize("fmt, mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("GIF", "image/gif")])
def test_images_decode_as_a_single_frame(clip, fmt, mime):
    data = image_bytes(clip[0], fmt)
    assert sniff_mime(data) == mime
    decoded = decode_media(data)
    assert decoded.is_image is True
    assert decoded.mime == mime
    assert decoded.frames.shape == (1, 128, 128, 3)
    assert decoded.frames.dtype == np.uint8


def test_png_with_alpha_becomes_rgb_and_large_images_shrink():
    rgba = np.zeros((300, 400, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 255
    decoded = decode_media(image_bytes(rgba, "PNG"), max_pixels=100 * 75)
    assert decoded.frames.shape == (1, 75, 100, 3)
    assert decoded.frames[0, ..., 0].mean() == pytest.approx(200, abs=2)


@pytest.mark.parametrize(
    "data, mime",
    [
        (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2", "video/mp4"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
        (b"GIF89a\x01\x00", "image/gif"),
        (b"hello, this is a text file\n", None),
        (b"%PDF-1.7\n", None),
        (b"", None),
    ],
)
def test_sniff_mime(data, mime):
    assert sniff_mime(data) == mime


# --- bad input ------------------------------------------------------------------


def test_text_file_is_unsupported_media_type():
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_media(b"prompt: a cat surfing a wave\nthis is not a video\n")
    error = caught.value
    assert isinstance(error, MediaError)
    assert error.status == 415
    assert error.code == "unsupported_media_type"
    assert "text" in str(error) and "MP4" in str(error)


def test_zero_bytes_is_undecodable_with_a_clear_message():
    with pytest.raises(UndecodableMedia) as caught:
        decode_media(b"")
    assert caught.value.status == 422
    assert caught.value.code == "undecodable_media"
    assert "empty" in str(caught.value)


def test_truncated_mp4_is_undecodable(mp4):
    for cut in (len(mp4) // 2, len(mp4) - 64, 40):
        with pytest.raises(UndecodableMedia):
            decode_media(mp4[:cut])


def test_garbage_after_ftyp_is_undecodable(mp4):
    ftyp_size = int.from_bytes(mp4[:4], "big")
    corrupt = mp4[:ftyp_size] + bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8))
    with pytest.raises(UndecodableMedia) as caught:
        decode_media(corrupt)
    assert caught.value.status == 422


def test_noise_in_place_of_the_video_data_is_undecodable(mp4):
    offset, size = next((o, s) for t, o, s in top_level_boxes(mp4) if t == "mdat")
    corrupt = bytearray(mp4)
    corrupt[offset + 8 : offset + size] = np.random.default_rng(2).integers(0, 256, size - 8, dtype=np.uint8).tobytes()
    with pytest.raises(UndecodableMedia):
        decode_media(bytes(corrupt))


def test_corrupt_image_is_undecodable(clip):
    png = image_bytes(clip[0], "PNG")
    with pytest.raises(UndecodableMedia):
        decode_media(png[:60])
    with pytest.raises(UndecodableMedia):
        decode_media(b"\xff\xd8\xff\xe0" + b"\x00" * 100)


def test_probe_rejects_non_video():
    with pytest.raises(UndecodableMedia):
        probe_mp4(b"")
    with pytest.raises(UndecodableMedia):
        probe_mp4(b"not a video at all")


# --- thumbnails -----------------------------------------------------------------


def test_thumbnail_is_the_middle_frame_as_a_small_jpeg():
    frames = np.zeros((5, 600, 900, 3), np.uint8)
    for t in range(5):
        frames[t] = 40 * t
    data = thumbnail_jpeg(frames, max_side=300)
    assert sniff_mime(data) == "image/jpeg"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (300, 200)
        assert np.asarray(image).mean() == pytest.approx(80, abs=3)
