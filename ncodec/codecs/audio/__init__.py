"""The audio codec: residual-vector-quantized 16 kHz speech and music, 1.5-12 kbps (see docs/AUDIO.md)."""
