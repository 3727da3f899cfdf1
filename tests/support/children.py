"""Server processes that die with the test process, and stop on SIGINT whatever it inherited.

Pass :func:`tied` as ``preexec_fn`` to ``subprocess.Popen``. In the child, before the server's
program starts, it:

* asks Linux for ``SIGKILL`` when the test process dies (``prctl(PR_SET_PDEATHSIG)``), so an
  interrupted or killed run (a second Ctrl+C, a CI timeout, ``kill -9``) leaves no server behind,
  with its port and its files. The signal comes when the *thread* that started the child ends:
  start servers from the main thread (every test does). gunicorn's workers follow their master:
  they exit when it is gone;
* puts SIGINT and SIGQUIT back to their default. A shell without job control starts a
  background command (``pytest &``, a CI runner) with both *ignored*, the children inherit that
  through ``exec``, and Python keeps an ignored SIGINT ignored, so waitress and ``flask run``
  would not stop on Ctrl+C at all (test_reads_and_sigint_flush_the_counts then waited 30 s and
  killed them).

The libc function is looked up here, in the parent: the child, forked from a process with
threads, only makes two system calls and sets two signal dispositions before ``exec``.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Callable

__all__ = ["tied"]

_PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_prctl.restype = ctypes.c_int


def tied() -> Callable[[], None]:
    """A ``preexec_fn`` tying the child to this process (see the module's docstring)."""
    parent = os.getpid()

    def preexec() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        if _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:  # the parent died before the request above: nobody will stop us
            os._exit(126)

    return preexec
