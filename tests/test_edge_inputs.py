"""Every awkward input through the command line: a file, or one line and exit 1, and no output.

The cases are those of the reliability issue: broken and mislabelled files, extreme image shapes
and modes, animation, decompression bombs, and the audio and video equivalents. Each either
encodes (and then decodes) or is refused cleanly; which one is recorded here case by case, so a
change of behaviour shows up as a failing test rather than a surprise.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ncodec.cli.main import main


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _photo(h: int = 24, w: int = 32) -> np.ndarray:
    from ncodec.media.image import read_image
    from ncodec.media.samples import sample_photo_path

    return np.ascontiguousarray(read_image(sample_photo_path()).pixels[200:200 + h, 300:300 + w])


def _save(img: Image.Image, name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / name
        img.save(path)
        return path
    return make


def _bytes(name: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name
    return make


def _renamed_png(folder: Path) -> Path:
    Image.fromarray(_photo()).save(folder / "real.png")
    (folder / "real.png").rename(folder / "picture.wav")
    return folder / "picture.wav"


def _truncated_png(folder: Path) -> Path:
    Image.fromarray(_photo()).save(folder / "full.png")
    data = (folder / "full.png").read_bytes()
    (folder / "cut.png").write_bytes(data[: len(data) // 2])
    return folder / "cut.png"


def _bomb(folder: Path) -> Path:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64)) \
        + _png_chunk(b"IEND", b"")
    (folder / "bomb.png").write_bytes(data)
    return folder / "bomb.png"


def _palette_with_transparency(folder: Path) -> Path:
    img = Image.fromarray(_photo()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    img.info["transparency"] = 0
    img.save(folder / "pal.png", transparency=0)
    return folder / "pal.png"


def _animated(fmt: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        frames = [Image.fromarray(np.roll(_photo(16, 16), 3 * i, axis=1)) for i in range(3)]
        path = folder / f"anim.{fmt}"
        frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
        return path
    return make


def _audio(seconds: float, name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        from ncodec.media.audio import AudioData, write_audio

        write_audio(folder / name, AudioData(np.zeros((1, int(16_000 * seconds)), np.float32), 16_000))
        return folder / name
    return make


def _one_frame_video(folder: Path) -> Path:
    from ncodec.media.video import VideoData, write_video

    write_video(folder / "one.mkv", VideoData(_photo(16, 16)[None], Fraction(25)))
    return folder / "one.mkv"


# (name, how to make the input, extra CLI arguments, expected: "coded" or a phrase of the error line)
CASES: list[tuple[str, Callable[[Path], Path], list[str], str]] = [
    ("0-byte file", _bytes("empty.png", b""), [], "empty"),
    ("text file named .png", _bytes("notes.png", b"just some text\n"), [], "not"),
    ("PNG renamed .wav", _renamed_png, [], "coded"),
    ("1x1 image", _save(Image.new("RGB", (1, 1), (200, 10, 10)), "one.png"), [], "coded"),
    ("1x5000 image", _save(Image.fromarray(np.tile(_photo(1, 100), (1, 50, 1))), "strip.png"), [], "coded"),
    ("16-bit PNG", _save(Image.fromarray(np.arange(24 * 32, dtype=np.uint16).reshape(24, 32) * 80), "deep.png"),
     [], "coded"),
    ("CMYK JPEG", _save(Image.fromarray(_photo()).convert("CMYK"), "cmyk.jpg"), [], "coded"),
    ("palette PNG with transparency", _palette_with_transparency, [], "coded"),
    ("animated GIF", _animated("gif"), ["-q", "1"], "coded"),
    ("animated WebP", _animated("webp"), ["-q", "1"], "coded"),
    ("truncated PNG", _truncated_png, [], "truncated"),
    ("decompression-bomb PNG", _bomb, [], "limit"),
    ("1 s of silence", _audio(1.0, "silence.wav"), [], "coded"),
    ("10 ms clip", _audio(0.01, "click.wav"), [], "coded"),
    ("1-frame video", _one_frame_video, ["-q", "1"], "coded"),
    ("image given to the audio model", _save(Image.fromarray(_photo()), "photo.png"), ["--model", "audio-rvq"],
     "no audio stream"),
    ("audio given to the video model", _audio(0.5, "talk.wav"), ["--model", "video-latent-grid"], "no video stream"),
]


@pytest.mark.parametrize(("name", "make", "extra", "expected"), CASES, ids=[c[0] for c in CASES])
def test_edge_input_gets_a_file_or_one_clean_line(name: str, make: Callable[[Path], Path], extra: list[str],
                                                  expected: str, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    src = make(tmp_path)
    out = tmp_path / "out.nc"
    code = main(["encode", str(src), str(out), *extra])
    err = capsys.readouterr().err
    if expected == "coded":
        assert code == 0, err
        assert out.is_file()
        back = tmp_path / ("back" + {"audio": ".wav", "video": ".mkv"}.get(_modality(out), ".png"))
        assert main(["decode", str(out), str(back)]) == 0, capsys.readouterr().err
        assert back.is_file()
    else:
        assert code == 1, err
        lines = [line for line in err.splitlines() if "error" in line]
        assert len(lines) == 1 and expected in lines[0].lower(), err
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _modality(path: Path) -> str:
    from ncodec import api

    return str(api.info_file(path)["modality"])
