"""The Python API: accepted media types, the test codec path, damaged files, weights mismatch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ncodec import api
from ncodec.container.format import read_container, write_container
from ncodec.errors import FormatError, ModelMismatchError, NcodecError

SAMPLE = bytes(range(256)) * 2 + b"ncodec test payload" * 3


def test_test_codec_round_trips_bytes_losslessly() -> None:
    data = api.encode(SAMPLE, model="test-raw")
    assert bytes(api.decode(data)) == SAMPLE
    info = api.info(data)
    assert info["modality"] == "test" and info["file_bytes"] == len(data)


def test_test_codec_handles_empty_input() -> None:
    assert bytes(api.decode(api.encode(b"", model="test-raw"))) == b""


def test_truncation_at_every_offset_is_an_ncodec_error() -> None:
    data = api.encode(SAMPLE[:64], model="test-raw")
    for cut in range(len(data)):
        with pytest.raises(NcodecError):
            api.decode(data[:cut])


def test_every_single_bit_flip_is_an_ncodec_error() -> None:
    data = api.encode(SAMPLE[:48], model="test-raw")
    for i in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[i // 8] ^= 1 << (i % 8)
        with pytest.raises(NcodecError):
            api.decode(bytes(damaged))


def test_other_weights_are_refused_with_a_clear_message() -> None:
    c = read_container(api.encode(SAMPLE, model="test-raw"))
    header = type(c.header)(c.header.modality, c.header.model_id, b"\x01" * 32, c.header.coder_id,
                            c.header.coder_version)
    with pytest.raises(ModelMismatchError, match="other weights"):
        api.decode(write_container(header, c.metadata, c.chunks))


def test_unknown_model_id_is_refused() -> None:
    c = read_container(api.encode(SAMPLE, model="test-raw"))
    header = type(c.header)(c.header.modality, 999, c.header.weights_sha256, c.header.coder_id,
                            c.header.coder_version)
    with pytest.raises(ModelMismatchError, match="999"):
        api.decode(write_container(header, c.metadata, c.chunks))


def test_unknown_critical_chunk_is_refused_and_ancillary_skipped() -> None:
    c = read_container(api.encode(SAMPLE, model="test-raw"))
    extra = dict(c.chunks, note=b"ancillary")
    assert bytes(api.decode(write_container(c.header, c.metadata, extra))) == SAMPLE
    with pytest.raises(FormatError, match="XTRA"):
        api.decode(write_container(c.header, c.metadata, dict(c.chunks, XTRA=b"?")))


@pytest.mark.parametrize("kind", ["pil", "numpy_u8", "numpy_float", "torch_chw", "torch_bchw"])
def test_image_inputs_of_every_documented_type(kind: str, photo: np.ndarray) -> None:
    small = np.ascontiguousarray(photo[:32, :48])
    media: object = {
        "pil": Image.fromarray(small),
        "numpy_u8": small,
        "numpy_float": small.astype(np.float32) / 255.0,
        "torch_chw": torch.from_numpy(small).permute(2, 0, 1).float() / 255.0,
        "torch_bchw": torch.from_numpy(small).permute(2, 0, 1)[None],
    }[kind]
    out = api.decode(api.encode(media, quality=6))
    assert out.pixels.shape == small.shape
