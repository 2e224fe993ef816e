"""Hostile-input testing of every registered codec: seeds, mutations and a fuzz runner.

Everything here is driven by the model registry: a codec registered later gets seed files, golden
files, damage tests and fuzzing without an edit to this package or to the tests.

- :mod:`.seeds`: one small real ``.nc`` file per registered model and quality (plus variants
  that reach other code paths), the digest of its decoded output, and the golden-file manifest;
- :mod:`.mutate`: byte-level damage and structure-aware mutations that re-serialise the
  container, so every length and CRC is right and the mutant reaches the codec's own checks;
- :mod:`.runner`: the fuzz loop (``python -m ncodec.fuzz``), with a time bound and a memory
  bound per input, coverage-guided through atheris when it is installed.
"""
