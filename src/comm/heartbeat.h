// Liveness of the ranks while a job runs. A rank that is stopped (SIGSTOP,
// a debugger, a node frozen by a hung file system or swapping) neither fails
// nor exits: the launcher sees nothing wrong and every other rank waits for
// it in its next collective, MPI's or HDF5's, until the job's time limit.
// Each rank therefore runs a thread that sends a small message to the next
// rank every tick and watches the beats of the previous one (a ring: P
// messages per tick in all). When a rank hears nothing from its left
// neighbour for DISTCLUST_HEARTBEAT_TIMEOUT seconds (default 60) while it
// kept running itself, it names the silent rank and ends the job with
// MPI_Abort, as a failure on one rank does. The thread beats whatever the
// rank's main thread is doing (a long GEMM, a blocking collective, a slow
// write), so slow work never counts as silence; only a process that is not
// scheduled at all does. A job stopped and resumed as a whole (`scontrol
// suspend`/`resume`) goes on (comm/liveness.h). The same thread watches the
// collective calls of the rank's main thread and ends the job when one waits
// longer than DISTCLUST_COLLECTIVE_TIMEOUT (comm/collective_watch.h): a rank
// that beats but never arrives is alive and stuck.
//
// Needs MPI_THREAD_MULTIPLE (the thread calls MPI beside the main thread);
// without it, or on one rank, or with both timeouts 0, no thread is started.
#pragma once

namespace distclust {

/// Collective, on every rank right after MPI_Init: starts the heartbeat
/// (its own duplicate of MPI_COMM_WORLD, so no stage's message can match a
/// beat). A bad or per-rank DISTCLUST_HEARTBEAT_TIMEOUT or
/// DISTCLUST_COLLECTIVE_TIMEOUT is an Error naming it, on every rank.
void start_heartbeat();

/// Collective, before MPI_Finalize on a normal end (every rank must get
/// here): the beats go on until every rank has asked to stop (a rank that
/// finished first must not look stopped to one still writing), then the
/// thread ends. A no-op when none was started.
void stop_heartbeat();

/// Seconds of silence after which a rank counts as stopped:
/// DISTCLUST_HEARTBEAT_TIMEOUT, default 60; 0 = no heartbeat. A value that
/// is not a number of seconds, 0 or >= 2, is an Error naming it.
double heartbeat_timeout_seconds();

}  // namespace distclust
