"""Rate-distortion evaluation and benchmarks (``ncodec eval``, ``ncodec bench``).

Modules: :mod:`~ncodec.eval.metrics` (PSNR, MS-SSIM, PESQ, STOI, SI-SDR, log-mel, video PSNR),
:mod:`~ncodec.eval.baselines` (JPEG, WebP, AVIF, Opus, MP3, x264, x265, SVT-AV1 as real files),
:mod:`~ncodec.eval.bdrate` (Bjøntegaard deltas, PCHIP and cubic), :mod:`~ncodec.eval.runner`
(``run_eval``), :mod:`~ncodec.eval.bench` (``run_bench``) and :mod:`~ncodec.eval.results`
(RESULTS.md). Nothing heavy is imported here, so the CLI can mount the sub-commands cheaply.
"""
