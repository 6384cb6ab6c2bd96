#!/usr/bin/env python3
"""stall_thread.py TID [SEQ_OFFSET]: stops one thread of a process (ptrace
PTRACE_SEIZE + PTRACE_INTERRUPT) while its other threads run on, as a read
that never returns stops a rank's main thread while its heartbeat thread
beats. With SEQ_OFFSET (the address of distclust's collective state word,
comm/collective_watch.cpp's g_state, relative to the executable's load
address: `nm`), the thread is only kept where it waits in no collective
call (the word's low 16 bits, the threads inside one, are 0); else it is
let go and tried again a
few ms later. Prints 'stalled TID' and holds the thread until this process
ends (SIGTERM or SIGKILL: the kernel then lets it go on). Needs permission
to ptrace TID (root, or CAP_SYS_PTRACE); exits 3 when refused."""
import ctypes
import os
import random
import signal
import struct
import sys
import time

PTRACE_DETACH, PTRACE_SEIZE, PTRACE_INTERRUPT = 17, 0x4206, 0x4207
WALL = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]


def ptrace(req, name, tid):
    if libc.ptrace(req, tid, None, None) != 0:
        err = ctypes.get_errno()
        print(f"stall_thread: {name} {tid}: {os.strerror(err)}", file=sys.stderr)
        sys.exit(3 if err in (1, 13) else 1)  # EPERM, EACCES: not allowed here


def load_base(pid):
    exe = os.readlink(f"/proc/{pid}/exe")
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            f = line.split()
            if len(f) >= 6 and f[5] == exe and int(f[2], 16) == 0:
                return int(f[0].split("-")[0], 16)
    raise SystemExit(f"stall_thread: no mapping of {exe} in /proc/{pid}/maps")


def seq(pid, addr):
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(addr)
        return struct.unpack("<Q", mem.read(8))[0]


tid = int(sys.argv[1])
addr = load_base(tid) + int(sys.argv[2], 0) if len(sys.argv) > 2 else None
for attempt in range(200):
    ptrace(PTRACE_SEIZE, "PTRACE_SEIZE", tid)
    ptrace(PTRACE_INTERRUPT, "PTRACE_INTERRUPT", tid)
    os.waitpid(tid, WALL)  # stopped now
    if addr is None:
        break
    s = seq(tid, addr)
    if s & 0xFFFF == 0:
        break
    ptrace(PTRACE_DETACH, "PTRACE_DETACH", tid)  # inside a call: let it go on
    time.sleep(random.uniform(0.01, 0.08))
else:
    raise SystemExit("stall_thread: the thread was inside a collective call at every try")
print(f"stalled {tid} (try {attempt + 1})", flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    signal.pause()
