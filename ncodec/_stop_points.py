"""Named points where a test can freeze this process, to kill it at exactly that step.

A test that kills a run "after a few seconds" passes or fails with the speed of the machine. To
check that a kill at the worst moment (all data written, nothing named yet) loses nothing, the
test sets ``NCODEC_STOP_AT`` to the point's name; the process stops itself there with SIGSTOP,
the test sees it stopped (``waitpid`` with ``WUNTRACED``) and sends SIGKILL. Unset, a stop point
costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

#: The environment variable naming the point to stop at.
STOP_AT_ENV = "NCODEC_STOP_AT"

#: Every output file is complete on disk but not yet under its name.
BEFORE_NAMING_OUTPUT = "before-naming-output"


def stop_point(name: str) -> None:
    """Stop this process (SIGSTOP) if ``NCODEC_STOP_AT`` names this point; otherwise do nothing."""
    if os.environ.get(STOP_AT_ENV) == name and hasattr(signal, "SIGSTOP"):
        os.kill(os.getpid(), signal.SIGSTOP)
