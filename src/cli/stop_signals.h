// A job stopped by a signal (scancel, a time limit, Ctrl-C, mpirun's
// SIGTERM when a peer died) ended within a second but said nothing: no
// signal, no word on what is left. Rank 0 now prints one line before the
// signal takes its default course (the exit status still says the signal),
// and every rank writes it to its rank log (--log-dir, a run's logs/).
#pragma once

namespace distclust::cli {

/// Installs the handlers for SIGTERM, SIGINT and SIGHUP (not for one the
/// process inherited as ignored: nohup); the message is formatted now (a
/// handler may only write it). Other ranks stay silent on the terminal.
void install_stop_message(int rank);

}  // namespace distclust::cli
