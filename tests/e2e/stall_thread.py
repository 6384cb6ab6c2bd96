#!/usr/bin/env python3
"""stall_thread.py TID: stops one thread of a process (ptrace PTRACE_SEIZE +
PTRACE_INTERRUPT) while its other threads run on, as a read that never
returns stops a rank's main thread while its heartbeat thread beats. Prints
'stalled TID' and holds the thread until this process ends (SIGTERM or
SIGKILL: the kernel then lets it go on). Needs permission to ptrace TID
(root, or CAP_SYS_PTRACE); exits 3 when refused."""
import ctypes
import os
import signal
import sys

PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
tid = int(sys.argv[1])
for req, name in ((PTRACE_SEIZE, "PTRACE_SEIZE"), (PTRACE_INTERRUPT, "PTRACE_INTERRUPT")):
    if libc.ptrace(req, tid, None, None) != 0:
        err = ctypes.get_errno()
        print(f"stall_thread: {name} {tid}: {os.strerror(err)}", file=sys.stderr)
        sys.exit(3 if err in (1, 13) else 1)  # EPERM, EACCES: not allowed here
print("stalled", tid, flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
