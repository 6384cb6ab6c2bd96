// distclust: one binary, one subcommand per pipeline stage.
#include <hdf5.h>
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <new>

#include "cli/commands.h"
#include "cli/help_format.h"
#include "cli/suggest.h"
#include "comm/error_agreement.h"
#include "comm/heartbeat.h"
#include "cli/stage_command.h"
#include "cli/stop_signals.h"
#include "kernels/compute_env.h"
#include "distclust/comm.h"
#include "distclust/error.h"
#include "distclust/log.h"
#include "distclust/runtime.h"
#include "io/h5_util.h"
#include "pipeline/stage_table.h"

namespace {

/// MPI (only under a launcher), the stop messages and the heartbeat.
/// false: the heartbeat was refused (said by one rank; exit 2).
bool start_runtime(int& rank, int& size) {
  // MPI starts only under a launcher (mpirun, srun, hydra): a single process
  // needs none, and Open MPI's singleton start costs seconds. comm=mpi|nccl
  // without a launcher starts it later (make_communicator).
  if (distclust::launched_by_mpi()) {
    distclust::init_mpi();
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    distclust::init_error_agreement();
  }
  distclust::log::set_identity(rank, size);
  // distclust's errors say what HDF5's stack would (a probe of an unreadable
  // input printed 15 lines of it before the one clear line).
  distclust::h5::quiet();
  distclust::cli::install_stop_message(rank);  // after MPI_Init, which may install its own
  if (size <= 1) return true;
  try {
    distclust::start_heartbeat();  // a stopped rank ends the job (comm/heartbeat.h)
    return true;
  } catch (const std::exception& e) {  // a bad or per-rank timeout: refused on every rank, said by one
    if (*e.what()) distclust::log::error(e.what());
    MPI_Finalize();
    return false;
  }
}

void add_commands(CLI::App& app) {
  app.formatter(std::make_shared<distclust::cli::HelpFormatter>());
  app.require_subcommand(1);
  // -v / -q anywhere on the line (subcommands pass them up: fallthrough).
  app.add_flag("-v,--verbose",
               "also print per-iteration, per-epoch and timing lines (always in the rank logs)");
  app.add_flag("-q,--quiet",
               "no progress or log lines: errors, and a command's own result (eval's scores, bench tables, "
               "config, env) only; `-q eval --json` prints just the JSON");
  app.fallthrough();
  app.set_version_flag("--version", "distclust " DISTCLUST_VERSION);
  distclust::cli::add_synth_commands(app);
  // One subcommand per stage of the stage table.
  distclust::for_each_stage([&](const auto& def) { distclust::cli::add_stage_command(app, def); });
  distclust::cli::add_run_command(app);
  distclust::cli::add_bench_commands(app);
  distclust::cli::add_bench_extract_command(app);
  distclust::cli::add_config_command(app);
  distclust::cli::add_env_command(app);
}

/// -v / -q, read before parsing: the commands run inside parse().
void set_log_level(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "-v" || a == "--verbose")
      distclust::log::set_level(std::min(distclust::log::level(), distclust::log::Level::detail));
    if (a == "-q" || a == "--quiet") distclust::log::set_level(distclust::log::Level::error);
    if (a == "--") break;
  }
}

/// A mistyped subcommand or flag: name the nearest known one. The exit code.
int parse_failed(CLI::App& app, const CLI::ParseError& e, int rank, int argc, char** argv) {
  const std::string hint = e.get_exit_code() != 0 ? distclust::cli::unknown_argument_hint(app, argc, argv) : "";
  if (rank == 0 && !hint.empty()) std::fprintf(stderr, "distclust: %s\n", hint.c_str());
  const int code = rank == 0 && hint.empty() ? app.exit(e) : 0;
  return e.get_exit_code() != 0 ? 2 : code;
}

/// A command failed on this rank. Every rank failed (a config error, a bad
/// input): said once by rank 0, and a normal exit. Else a failure on one
/// rank ends the whole job: no rank is left waiting.
void command_failed(const std::exception& e, int size) {
  // std::bad_alloc says only "std::bad_alloc": say what it means and what
  // the user can change.
  const std::string what =
      dynamic_cast<const std::bad_alloc*>(&e) != nullptr
          ? std::string("out of memory (") + e.what() +
                "): a buffer did not fit in this rank's memory; lower the batch or block sizes, use more "
                "ranks or nodes, or give each rank more memory"
          : std::string(e.what());
  const bool echo = dynamic_cast<const distclust::EchoError*>(&e) != nullptr;
  if (size <= 1 || !distclust::all_ranks_failed(what, 1.0, echo)) {
    distclust::log::error(what);
    if (size > 1) {
      std::fflush(stdout);
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
  // HDF5's clean-up at MPI_Finalize would crash on a half-closed file, and
  // close a file a failed writer left open collectively, which on a full
  // disk deadlocks (assign failing on its CSV with its .h5 still open hung
  // at exit with 2 ranks): such files are left to the OS.
  // Under an address-space limit (ulimit -v) OpenBLAS's own pool thread may
  // be retrying, for ever, a buffer that does not fit, and its exit handler
  // joins that thread: the process hung after saying its error.
  if (distclust::hdf5_close_failed() || H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE) > 0 ||
      distclust::address_space_limit_bytes() > 0) {
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(1);
  }
}

/// A result written to a full or closed stdout (`distclust config >
/// /dev/full`) must not end in success: checked once here for every
/// command, as coreutils' close_stdout does. The exit code.
int check_stdout(int code) {
  std::cout.flush();
  const bool out_failed = std::fflush(stdout) != 0, out_error = std::ferror(stdout) != 0 || !std::cout;
  if (!out_failed && !out_error) return code;
  const int err = errno;
  std::fprintf(stderr, "distclust: writing to standard output failed%s%s: what it printed is incomplete\n",
               out_failed ? ": " : "", out_failed ? std::strerror(err) : "");
  return code == 0 ? 1 : code;
}

void finish_mpi() {
  int inited = 0, finalized = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&finalized);
  if (inited && !finalized) {
    distclust::stop_heartbeat();  // every rank is here: none looks stopped to another
    MPI_Finalize();
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, so that all inherit it (kernels/compute_env.h).
  distclust::compute_env::flush_denormals();
  distclust::compute_env::prepare(argc, argv);  // may re-exec with the BLAS/OpenMP env
  // Every HDF5 file is closed explicitly, its result checked (io/commit.h).
  // HDF5's own clean-up at exit would close again a file whose close failed
  // (a full disk) and crash in HDF5 1.10 (SIGSEGV in H5F__close_cb): skip it.
  H5dont_atexit();
  int rank = 0, size = 1;
  if (!start_runtime(rank, size)) return 2;

  CLI::App app{"distclust " DISTCLUST_VERSION
               ": distributed clustering of large image collections\n"
               "(extract -> kmeans -> knn -> scan). Run under mpirun/srun for several ranks."};
  add_commands(app);
  int code = 0;
  try {
    set_log_level(argc, argv);
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    code = parse_failed(app, e, rank, argc, argv);
  } catch (const std::exception& e) {
    command_failed(e, size);
    code = 1;
  }
  code = check_stdout(code);
  finish_mpi();
  return code;
}
