"""Child processes that never outlive the copilot that started them, and never compete with its set.

`kill -9` of a parent leaves its children running unless they watch for it: the phrase analyser's
workers waited for ever on a queue whose other end they held themselves (~540 MB). A child calls
`die_with_parent(pid)` first thing: on Linux the kernel kills it when the parent goes
(PR_SET_PDEATHSIG), and a thread watching the parent's pid covers other systems (and the moment
before the first call). `background()` also lowers the child's priority, for work a live set must
not wait behind (it runs in its own process: no GIL shared with the dispatch thread).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time


def die_with_parent(parent: int) -> None:
    """End this process when `parent` ends (call it first thing in the child)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the line above: nobody would tell us
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="copilot-parent-watch", daemon=True).start()


def background(parent: int, niceness: int = 10) -> None:
    """`die_with_parent`, and this whole process behind the set (niceness 10)."""
    die_with_parent(parent)
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
