"""The image codec's exact synthesis: bounded sums, the float network's output, any thread count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncodec import api
from ncodec.codecs.image.codec import ImageCodec
from ncodec.codecs.image.exact import ExactSynthesis, exactness_margin_bits
from ncodec.registry import by_name, load_codec


def _codec() -> ImageCodec:
    codec, _ = load_codec(by_name("image-hyperprior"))
    assert isinstance(codec, ImageCodec)
    return codec


def test_every_layer_of_the_shipped_synthesis_stays_within_the_exact_sum_budget() -> None:
    """The worst-case partial sum of every convolution and of GDN's sums, read back from the
    stored weights, stays below 2**53 units: no addition can round, in any order."""
    assert exactness_margin_bits(_codec().synthesis) >= 1.0


def test_exact_synthesis_follows_the_float_network() -> None:
    codec = _codec()
    y = torch.randn(1, codec.config.M, 8, 12, generator=torch.Generator().manual_seed(3)) * 4
    with torch.no_grad():
        reference = codec.model.g_s(y).double()
    exact = codec.synthesis(y.double())
    assert float((exact - reference).abs().max()) < 2e-3  # a fifth of an 8-bit level


def test_exact_synthesis_ignores_the_thread_count() -> None:
    synthesis = ExactSynthesis(_codec().model.g_s)
    y = torch.randn(1, _codec().config.M, 6, 10, generator=torch.Generator().manual_seed(4)).double() * 6
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = synthesis(y)
        torch.set_num_threads(3)
        three = synthesis(y)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(one, three)


def test_exact_decoding_of_a_photo_differs_from_the_float_decoder_by_at_most_one_level(photo: np.ndarray) -> None:
    """The sample photo's latents at quality 4 through both syntheses: pixels at most one 8-bit
    level apart (where float32 rounding lands on the other side of a half level), and rarely."""
    codec = _codec()
    x = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None].float() / 255.0
    gain, inv_gain, factor = codec.gains(4)
    with torch.no_grad():
        y = codec.model.g_a(x) * gain
        _, means = codec._hyper(torch.round(codec.model.h_a(y)), factor)
        y_hat = torch.round(y.double() - means) + means
        by_float = codec.model.g_s(y_hat.float() * inv_gain).double()
    exact = codec.synthesis(y_hat * codec.exact_inverse_gain(4)[None, :, None, None])

    def pixels(t: torch.Tensor) -> np.ndarray:
        return torch.round(t.clamp(0, 1) * 255).numpy().astype(np.int64)

    diff = np.abs(pixels(exact) - pixels(by_float))
    assert diff.max() <= 1 and diff.mean() < 0.01
    decoded = api.decode(api.encode(photo, model="image-hyperprior", quality=4)).pixels
    assert np.array_equal(decoded, np.moveaxis(pixels(exact)[0], 0, -1).astype(np.uint8))


def test_tiled_transposed_convolutions_equal_the_whole_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tiles bound the unfold buffer (13 GB whole for a 4K image's third layer); the sums are
    exact, so any tiling must give the bits of the layer computed in one piece."""
    import torch.nn.functional as F

    from ncodec.codecs.image import exact

    synthesis = _codec().synthesis
    generator = torch.Generator().manual_seed(0)
    for budget in (1, 128 * 25 * 3, 128 * 25 * 35):  # one pixel, a few pixels, several rows per tile
        monkeypatch.setattr(exact, "TILE_BUFFER", budget)
        for layer in synthesis.layers:
            if not isinstance(layer, exact._TransposedConv):
                continue
            for h, w in ((1, 1), (1, 9), (7, 1), (5, 6), (13, 11)):
                x = torch.randn(1, layer.weight.shape[0], h, w, generator=generator, dtype=torch.float64)
                x = (x * 8).round() / 16
                whole = F.conv_transpose2d(x, layer.weight, None, stride=layer.stride, padding=layer.padding,
                                           output_padding=layer.output_padding).add_(layer.bias)
                assert torch.equal(layer(x.clone()), whole), (budget, h, w)
