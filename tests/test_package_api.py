"""``ncodec.encode/decode/info`` at the package's top level, without importing torch up front."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_top_level_functions_are_the_api_functions() -> None:
    import ncodec
    import ncodec.api

    for name in ("encode", "decode", "info", "encode_with_stats", "encode_file", "decode_file", "info_file"):
        assert getattr(ncodec, name) is getattr(ncodec.api, name)
    from ncodec.errors import NcodecError

    assert ncodec.NcodecError is NcodecError
    assert set(ncodec.__all__) <= set(dir(ncodec))
    with pytest.raises(AttributeError, match="no attribute 'decompress'"):
        ncodec.decompress  # noqa: B018


def test_importing_the_package_loads_neither_torch_nor_a_codec() -> None:
    code = "import sys, ncodec; print(sorted(m for m in ('torch', 'ncodec.api') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
