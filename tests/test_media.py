"""Media reading and writing: round trips, conversions, limits and refusals.

Every input is generated here (numpy -> Pillow / PyAV), small enough that the whole file runs in a
few seconds.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageOps

from ncodec.errors import InputError, NcodecError, UsageError
from ncodec.media import (
    MAX_CHANNELS,
    MAX_PIXELS,
    OUTPUT_EXTENSIONS,
    AudioData,
    VideoData,
    detect_modality,
    is_image,
    read_audio,
    read_image,
    read_video,
    read_video_yuv420,
    resample,
    rgb_to_yuv420,
    to_mono,
    write_audio,
    write_image,
    write_video,
    yuv420_to_rgb,
)
from ncodec.media.image import _apply_orientation

NTSC = Fraction(30000, 1001)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --------------------------------------------------------------------------------------------------
# helpers


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB but carries almost no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + png_chunk(b"IEND", b"")
    )


def insert_png_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    """Insert a chunk right after IHDR (8-byte signature + 25-byte IHDR chunk)."""
    return png[:33] + png_chunk(kind, data) + png[33:]


def exif_with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def png_exif_chunk(orientation: int) -> bytes:
    """An eXIf chunk body: TIFF data without the "Exif\\0\\0" header JPEG uses."""
    return exif_with_orientation(orientation).tobytes()[6:]


def smooth_video(rng: np.random.Generator, t: int, h: int, w: int) -> np.ndarray:
    """Moving blocky content: compresses well, with enough structure to catch misalignment."""
    blocks = rng.integers(0, 256, (h // 4 + 1, w // 4 + 2, 3), dtype=np.uint8)
    big = np.kron(blocks, np.ones((4, 4, 1), dtype=np.uint8))
    return np.stack([big[:h, k : k + w] for k in range(t)])


def write_pyav_audio(path: Path, fmt: str, codec: str, samples: np.ndarray, rate: int) -> None:
    layout = "stereo" if samples.shape[0] == 2 else "mono"
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=rate, layout=layout)
        assert isinstance(stream, av.AudioStream)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, 0, Fraction(1, rate)
        container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


# --------------------------------------------------------------------------------------------------
# images


@pytest.mark.parametrize(
    ("shape", "dtype"),
    [
        ((13, 11), np.uint8),  # L
        ((13, 11, 3), np.uint8),  # RGB
        ((13, 11, 4), np.uint8),  # RGBA
        ((13, 11), np.uint16),  # 16-bit grey (Pillow "I;16")
        ((13, 11, 3), np.uint16),  # 48-bit RGB (FFmpeg's PNG codec; Pillow would reduce it)
        ((13, 11, 4), np.uint16),  # 64-bit RGBA
    ],
)
def test_png_round_trip_is_exact(tmp_path: Path, rng: np.random.Generator, shape, dtype) -> None:
    pixels = rng.integers(0, np.iinfo(dtype).max + 1, shape, dtype=dtype)
    path = tmp_path / "x.png"
    write_image(path, pixels)
    image = read_image(path)
    expected = pixels if pixels.ndim == 3 else pixels[..., None]
    assert image.pixels.dtype == dtype
    assert image.bit_depth == (16 if dtype == np.uint16 else 8)
    assert image.source_format == "PNG"
    np.testing.assert_array_equal(image.pixels, expected)
    # bytes in, same answer
    np.testing.assert_array_equal(read_image(path.read_bytes()).pixels, expected)


def test_16bit_grey_alpha_png_becomes_rgba(rng: np.random.Generator) -> None:
    ya = rng.integers(0, 65536, (6, 9, 2), dtype=np.uint16)
    frame = av.VideoFrame(9, 6, "ya16be")
    plane = frame.planes[0]
    rows = np.zeros((6, plane.line_size // 2), dtype=">u2")
    rows[:, :18] = ya.reshape(6, 18)
    plane.update(rows.tobytes())
    codec = av.CodecContext.create("png", "w")
    codec.width, codec.height, codec.pix_fmt = 9, 6, "ya16be"
    png = b"".join(bytes(p) for p in [*codec.encode(frame), *codec.encode(None)])
    image = read_image(png)
    assert image.bit_depth == 16 and image.pixels.shape == (6, 9, 4)
    np.testing.assert_array_equal(image.pixels[..., :3], np.repeat(ya[..., :1], 3, axis=2))
    np.testing.assert_array_equal(image.pixels[..., 3], ya[..., 1])


def test_palette_and_mode_conversions(tmp_path: Path, rng: np.random.Generator) -> None:
    rgb = rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)
    pal = Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    pal.save(tmp_path / "p.png")
    got = read_image(tmp_path / "p.png")
    assert got.pixels.shape == (10, 12, 3)
    np.testing.assert_array_equal(got.pixels, np.asarray(pal.convert("RGB")))

    pal.save(tmp_path / "pt.png", transparency=0)
    got = read_image(tmp_path / "pt.png")
    assert got.pixels.shape == (10, 12, 4)
    index = np.asarray(pal)
    assert np.all(got.pixels[..., 3][index == 0] == 0) and np.all(got.pixels[..., 3][index != 0] == 255)

    Image.fromarray(rgb[..., 0]).convert("LA").save(tmp_path / "la.png")
    got = read_image(tmp_path / "la.png")
    assert got.pixels.shape == (10, 12, 4)
    np.testing.assert_array_equal(got.pixels[..., 0], rgb[..., 0])

    Image.fromarray(rgb[..., 0] > 127).save(tmp_path / "bilevel.png")
    got = read_image(tmp_path / "bilevel.png")
    assert got.pixels.shape == (10, 12, 1) and set(np.unique(got.pixels)) <= {0, 255}

    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg")
    assert read_image(tmp_path / "cmyk.jpg").pixels.shape == (10, 12, 3)


def test_exif_orientation_jpeg(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "rot.jpg", exif=exif_with_orientation(6))
    image = read_image(tmp_path / "rot.jpg")
    assert image.pixels.shape == (8, 5, 3)  # rotated to how viewers show it
    assert image.source_format == "JPEG"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_matches_pillow_for_8_and_16_bit(
    tmp_path: Path, rng: np.random.Generator, orientation: int
) -> None:
    pixels = rng.integers(0, 256, (5, 8, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", exif=exif_with_orientation(orientation))
    reference = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))))
    np.testing.assert_array_equal(read_image(buf.getvalue()).pixels, reference)
    np.testing.assert_array_equal(_apply_orientation(pixels, orientation), reference)

    # the 16-bit colour path (FFmpeg's decoder) honours an eXIf chunk too
    write_image(tmp_path / "deep.png", pixels.astype(np.uint16) * 257)
    png = insert_png_chunk((tmp_path / "deep.png").read_bytes(), b"eXIf", png_exif_chunk(orientation))
    image = read_image(png)
    assert image.bit_depth == 16
    np.testing.assert_array_equal(image.pixels, reference.astype(np.uint16) * 257)


def test_numpy_inputs() -> None:
    grey = read_image(np.full((4, 5), 0.5))
    assert grey.pixels.shape == (4, 5, 1) and grey.pixels.dtype == np.uint8 and grey.pixels[0, 0, 0] == 128
    deep = read_image(np.zeros((4, 5, 3), dtype=np.uint16))
    assert deep.bit_depth == 16 and deep.source_format is None
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        read_image(np.full((4, 5, 3), 1.5))
    with pytest.raises(InputError, match="shape"):
        read_image(np.zeros((4, 5, 2), dtype=np.uint8))
    with pytest.raises(InputError, match="dtype"):
        read_image(np.zeros((4, 5), dtype=np.int32))


def test_image_refusals(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"definitely not a picture" * 10)
    with pytest.raises(InputError, match=r"cannot read '.*garbage\.png': "):
        read_image(garbage)
    with pytest.raises(InputError, match="no such file"):
        read_image(tmp_path / "missing.png")

    huge = tmp_path / "huge.png"
    huge.write_bytes(png_header_only(9000, 9000))  # 81 M pixels declared, ~100 bytes of file
    assert 9000 * 9000 > MAX_PIXELS
    with pytest.raises(InputError, match="limit"):
        read_image(huge)
    with pytest.raises(InputError, match="limit"):
        read_image(png_header_only(1 << 20, 1 << 20))  # beyond Pillow's own bomb guard too

    frames = [Image.new("RGB", (6, 4), c) for c in ("red", "blue")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(InputError, match="animated"):
        read_image(tmp_path / "anim.gif")

    truncated = tmp_path / "truncated.png"
    write_image(tmp_path / "full.png", np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    truncated.write_bytes((tmp_path / "full.png").read_bytes()[:300])
    with pytest.raises(InputError):
        read_image(truncated)


def test_write_other_image_formats(tmp_path: Path, rng: np.random.Generator) -> None:
    rgba = rng.integers(0, 256, (9, 7, 4), dtype=np.uint8)
    for ext, channels in [(".jpg", 3), (".jpeg", 3), (".webp", 4), (".tif", 4), (".tiff", 4), (".bmp", 3)]:
        write_image(tmp_path / f"x{ext}", rgba)
        assert read_image(tmp_path / f"x{ext}").pixels.shape == (9, 7, channels)
    # lossless routes are exact
    np.testing.assert_array_equal(read_image(tmp_path / "x.webp").pixels, rgba)
    np.testing.assert_array_equal(read_image(tmp_path / "x.tif").pixels, rgba)
    # 16-bit to an 8-bit format is rounded to 8 bits
    write_image(tmp_path / "deep.bmp", np.full((3, 3, 3), 257 * 200, dtype=np.uint16))
    assert np.all(read_image(tmp_path / "deep.bmp").pixels == 200)

    with pytest.raises(UsageError, match=r"\.png"):
        write_image(tmp_path / "x.gifx", rgba)
    with pytest.raises(UsageError):
        write_image(tmp_path / "x.png", rgba.astype(np.float32))
    assert not (tmp_path / "x.gifx").exists()


def test_is_image(tmp_path: Path) -> None:
    write_image(tmp_path / "a.png", np.zeros((2, 2, 3), dtype=np.uint8))
    (tmp_path / "t.txt").write_text("hello")
    assert is_image(tmp_path / "a.png")
    assert not is_image(tmp_path / "t.txt")
    assert not is_image(tmp_path / "missing.png")


# --------------------------------------------------------------------------------------------------
# audio


@pytest.mark.parametrize("ext", [".wav", ".flac"])
def test_audio_round_trip(tmp_path: Path, rng: np.random.Generator, ext: str) -> None:
    samples = rng.uniform(-1, 1, (2, 5001)).astype(np.float32)
    write_audio(tmp_path / f"a{ext}", AudioData(samples, 22050))
    audio = read_audio(tmp_path / f"a{ext}")
    assert audio.sample_rate == 22050 and audio.samples.shape == (2, 5001)
    assert audio.samples.dtype == np.float32
    assert audio.source_format == ext[1:]
    assert np.max(np.abs(audio.samples - samples)) <= 1 / 32768 + 1e-7

    # 16-bit values survive exactly; a second round trip changes nothing
    write_audio(tmp_path / f"b{ext}", audio)
    np.testing.assert_array_equal(read_audio(tmp_path / f"b{ext}").samples, audio.samples)


def test_audio_channels_bytes_and_clipping(tmp_path: Path) -> None:
    samples = np.linspace(-1.5, 1.5, 3 * 100, dtype=np.float32).reshape(3, 100)
    write_audio(tmp_path / "c.wav", AudioData(samples, 16000))
    audio = read_audio((tmp_path / "c.wav").read_bytes())
    assert audio.samples.shape == (3, 100)
    assert audio.samples.min() >= -1.0 and audio.samples.max() <= 1.0


def test_lossy_audio_is_read_as_float(tmp_path: Path) -> None:
    n, rate = 4800, 48000
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(n) / rate)).astype(np.float32)
    write_pyav_audio(tmp_path / "a.mp3", "mp3", "libmp3lame", np.stack([tone, tone]), rate)
    audio = read_audio(tmp_path / "a.mp3")
    assert audio.sample_rate == rate and audio.samples.shape[0] == 2 and audio.source_format == "mp3"
    assert abs(audio.samples.shape[1] - n) <= 1152
    assert 0.3 < np.abs(audio.samples).max() <= 1.0


def test_audio_refusals(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("this is not audio\n" * 20)
    with pytest.raises(InputError, match=r"notes\.txt"):
        read_audio(text)
    write_image(tmp_path / "pic.png", np.zeros((4, 4, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="no audio stream"):
        read_audio(tmp_path / "pic.png")

    too_many = tmp_path / "nine.wav"
    with wave.open(str(too_many), "wb") as w:
        w.setnchannels(MAX_CHANNELS + 1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * (MAX_CHANNELS + 1) * 10)
    with pytest.raises(InputError, match="channels"):
        read_audio(too_many)

    with pytest.raises(UsageError, match=r"\.flac"):
        write_audio(tmp_path / "a.mp3", AudioData(np.zeros((1, 10), dtype=np.float32), 8000))


@pytest.mark.parametrize(
    ("sr_in", "sr_out"), [(44100, 16000), (16000, 24000), (48000, 24000), (22050, 44100), (11025, 24000)]
)
def test_resample_length_and_alignment(rng: np.random.Generator, sr_in: int, sr_out: int) -> None:
    for n in (1, 7, 1001, 12345):
        out = resample(rng.standard_normal((2, n)).astype(np.float32) * 0.1, sr_in, sr_out)
        assert out.shape == (2, round(n * sr_out / sr_in)) and out.dtype == np.float32
    # a click stays where it was
    n = sr_in // 2
    click = np.zeros(n, dtype=np.float32)
    at = n // 3
    click[at] = 1.0
    out = resample(click, sr_in, sr_out)
    assert out.shape == (round(n * sr_out / sr_in),)
    assert abs(int(np.argmax(out)) - at * sr_out / sr_in) <= 1
    # deterministic
    np.testing.assert_array_equal(out, resample(click, sr_in, sr_out))


def test_resample_same_rate_and_round_trip() -> None:
    x = np.sin(np.linspace(0, 20, 1000, dtype=np.float32))[None]
    np.testing.assert_array_equal(resample(x, 16000, 16000), x)
    back = resample(resample(x, 16000, 24000), 24000, 16000)
    assert back.shape == x.shape
    assert np.max(np.abs(back[:, 50:-50] - x[:, 50:-50])) < 1e-3


def test_to_mono() -> None:
    stereo = np.array([[1.0, 0.5, -1.0], [0.0, 0.5, 1.0]], dtype=np.float32)
    np.testing.assert_allclose(to_mono(stereo), [[0.5, 0.5, 0.0]])
    assert to_mono(stereo[:1]).shape == (1, 3)
    np.testing.assert_array_equal(to_mono(stereo[0]), stereo[:1])


# --------------------------------------------------------------------------------------------------
# video


@pytest.mark.parametrize(("ext", "max_error"), [(".mkv", 0), (".mp4", 3), (".y4m", None)])
def test_video_round_trip(tmp_path: Path, rng: np.random.Generator, ext: str, max_error: int | None) -> None:
    frames = smooth_video(rng, 5, 24, 40)
    write_video(tmp_path / f"v{ext}", VideoData(frames, NTSC))
    video = read_video(tmp_path / f"v{ext}")
    assert video.fps == NTSC and isinstance(video.fps, Fraction)
    assert video.frames.shape == frames.shape and video.frames.dtype == np.uint8
    error = np.abs(video.frames.astype(int) - frames)
    if max_error is not None:
        assert error.max() <= max_error
    else:  # 4:2:0 loses chroma detail; luma-dominated error stays moderate
        assert error.mean() < 25
    assert read_video(tmp_path / f"v{ext}", max_frames=2).frames.shape[0] == 2


@pytest.mark.parametrize("fps", [Fraction(60000, 1001), Fraction(24000, 1001), Fraction(25), Fraction(1, 3)])
def test_frame_rate_survives_exactly(tmp_path: Path, fps: Fraction) -> None:
    frames = np.zeros((2, 8, 8, 3), dtype=np.uint8)
    for ext in (".mkv", ".mp4", ".y4m"):
        write_video(tmp_path / f"v{ext}", VideoData(frames, fps))
        assert read_video(tmp_path / f"v{ext}").fps == fps, ext


def test_mkv_is_lossless_for_odd_sizes(tmp_path: Path, rng: np.random.Generator) -> None:
    frames = rng.integers(0, 256, (2, 15, 17, 3), dtype=np.uint8)
    write_video(tmp_path / "odd.mkv", VideoData(frames, Fraction(25)))
    np.testing.assert_array_equal(read_video(tmp_path / "odd.mkv").frames, frames)


def test_yuv420_planes_and_helpers(tmp_path: Path, rng: np.random.Generator) -> None:
    frames = smooth_video(rng, 3, 16, 24)
    write_video(tmp_path / "v.y4m", VideoData(frames, NTSC))
    (y, u, v), fps = read_video_yuv420(tmp_path / "v.y4m")
    assert fps == NTSC
    assert y.shape == (3, 16, 24) and u.shape == v.shape == (3, 8, 12) and y.dtype == np.uint8
    # the file holds exactly what rgb_to_yuv420 computes, and reading RGB uses the same convention
    ey, eu, ev = rgb_to_yuv420(frames)
    np.testing.assert_array_equal(y, ey)
    np.testing.assert_array_equal(u, eu)
    np.testing.assert_array_equal(v, ev)
    np.testing.assert_array_equal(yuv420_to_rgb(y, u, v), read_video(tmp_path / "v.y4m").frames)
    assert 16 <= y.min() and y.max() <= 235  # limited range
    # single frames and odd sizes
    odd = rng.integers(0, 256, (7, 9, 3), dtype=np.uint8)
    oy, ou, ov = rgb_to_yuv420(odd)
    assert oy.shape == (7, 9) and ou.shape == (4, 5)
    assert yuv420_to_rgb(oy, ou, ov).shape == (7, 9, 3)


def test_video_refusals(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.mkv"
    garbage.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(InputError, match=r"garbage\.mkv"):
        read_video(garbage)
    huge = tmp_path / "huge.y4m"  # header declares 5000x5000 frames, no data
    huge.write_bytes(b"YUV4MPEG2 W5000 H5000 F25:1 Ip A1:1 C420jpeg\nFRAME\n" + b"\0" * 100)
    with pytest.raises(InputError, match="limit"):
        read_video(huge)
    write_audio(tmp_path / "a.wav", AudioData(np.zeros((1, 800), dtype=np.float32), 8000))
    with pytest.raises(InputError, match="no video stream"):
        read_video(tmp_path / "a.wav")
    frames = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    with pytest.raises(UsageError, match=r"\.mkv"):
        write_video(tmp_path / "v.avi", VideoData(frames, Fraction(25)))
    with pytest.raises(UsageError):
        write_video(tmp_path / "v.mkv", VideoData(frames[..., :2], Fraction(25)))


# --------------------------------------------------------------------------------------------------
# probing


def test_detect_modality(tmp_path: Path, rng: np.random.Generator) -> None:
    pixels = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    write_image(tmp_path / "i.png", pixels)
    write_image(tmp_path / "i.jpg", pixels)
    write_audio(tmp_path / "a.wav", AudioData(np.zeros((1, 800), dtype=np.float32), 8000))
    write_audio(tmp_path / "a.flac", AudioData(np.zeros((2, 800), dtype=np.float32), 8000))
    frames = smooth_video(rng, 3, 8, 8)
    for ext in (".mkv", ".mp4", ".y4m"):
        write_video(tmp_path / f"v{ext}", VideoData(frames, NTSC))
    write_video(tmp_path / "one.mkv", VideoData(frames[:1], NTSC))
    gif = [Image.fromarray(f) for f in frames]
    gif[0].save(tmp_path / "anim.gif", save_all=True, append_images=gif[1:], duration=40)
    (tmp_path / "audio_named.png").write_bytes((tmp_path / "a.wav").read_bytes())

    expected = {
        "i.png": "image",
        "i.jpg": "image",
        "a.wav": "audio",
        "a.flac": "audio",
        "audio_named.png": "audio",  # content wins over the name
        "v.mkv": "video",
        "v.mp4": "video",
        "v.y4m": "video",
        "one.mkv": "video",
        "anim.gif": "video",
    }
    for name, modality in expected.items():
        assert detect_modality(tmp_path / name) == modality, name

    (tmp_path / "x.bin").write_text("just some text, no media here\n" * 10)
    with pytest.raises(InputError, match=r"cannot read '.*x\.bin': not an image, audio or video file"):
        detect_modality(tmp_path / "x.bin")
    with pytest.raises(NcodecError):
        detect_modality(tmp_path / "missing.wav")


def test_output_extensions() -> None:
    assert OUTPUT_EXTENSIONS["image"] >= {".png", ".jpg", ".webp"}
    assert OUTPUT_EXTENSIONS["audio"] == {".wav", ".flac"}
    assert OUTPUT_EXTENSIONS["video"] == {".mkv", ".mp4", ".y4m"}


def test_damaged_files_raise_only_input_errors(tmp_path: Path, rng: np.random.Generator) -> None:
    """Flipped bytes and truncations must end in InputError (or a clean read), never a traceback."""
    write_image(tmp_path / "a.png", rng.integers(0, 256, (12, 16, 3), dtype=np.uint8))
    write_image(tmp_path / "b.png", rng.integers(0, 65536, (12, 16, 4), dtype=np.uint16))
    write_audio(tmp_path / "a.flac", AudioData(rng.uniform(-1, 1, (2, 1500)).astype(np.float32), 8000))
    write_video(tmp_path / "v.mkv", VideoData(rng.integers(0, 256, (2, 16, 16, 3), dtype=np.uint8), NTSC))
    readers = {"a.png": read_image, "b.png": read_image, "a.flac": read_audio, "v.mkv": read_video}
    for name, reader in readers.items():
        original = (tmp_path / name).read_bytes()
        for trial in range(25):
            damaged = bytearray(original)
            for _ in range(int(rng.integers(1, 6))):
                damaged[int(rng.integers(0, len(damaged)))] = int(rng.integers(0, 256))
            if trial % 4 == 0:
                damaged = damaged[: int(rng.integers(1, len(damaged)))]
            for probe in (reader, detect_modality):
                try:
                    probe(bytes(damaged))
                except InputError:
                    pass
