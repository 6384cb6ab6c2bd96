# Shared by the bench scripts (sourced).
# wait_quiet MAX_SECONDS LOAD: waits (at most MAX_SECONDS) until the 1-minute
# load average is below LOAD; other work on a small machine distorts timings.
wait_quiet() {
  local t=0
  while (( t < $1 )); do
    awk -v l="$2" '{exit !($1 < l)}' /proc/loadavg && return 0
    sleep 5; t=$((t + 5))
  done
  echo "bench: load average still $(cut -d' ' -f1 /proc/loadavg) after ${1}s; timing anyway" >&2
}

# own_workdir DIR: makes DIR this script's scratch folder, never deleting a
# folder a bench script did not make. A DIR that does not exist or is empty
# is created and marked with the file .distclust-bench-workdir; a DIR that
# holds that marker (an earlier run's) is emptied; any other DIR (one of the
# user's) is refused with a message, and the script stops.
own_workdir() {
  local d=$1 marker=.distclust-bench-workdir
  if [[ -e $d && ! -d $d ]]; then
    echo "bench: $d exists and is not a folder; give a new or empty folder" >&2; exit 1
  fi
  if [[ -d $d && -n $(ls -A "$d") ]]; then
    if [[ ! -f $d/$marker ]]; then
      echo "bench: $d is not empty and was not made by a bench script (no $marker in it);" \
        "refusing to clear it: give a new or empty folder (or delete it yourself)" >&2
      exit 1
    fi
    find "$d" -mindepth 1 -maxdepth 1 ! -name "$marker" -exec rm -rf {} +
  fi
  mkdir -p "$d"
  touch "$d/$marker"
}

# logged LOG CMD...: CMD's output into LOG; when CMD fails, the command and
# the end of LOG on stderr, then the script stops (a failed step is never
# reported as a figure).
logged() {
  local log=$1; shift
  "$@" >"$log" 2>&1 || {
    local rc=$?
    echo "$(basename "$0" .sh): FAILED (rc $rc): $(printf '%q ' "$@")" >&2
    tr '\r' '\n' <"$log" | tail -30 >&2
    echo "$(basename "$0" .sh): stopped (above: the last 30 lines of its log, $log)" >&2
    exit 1
  }
}
