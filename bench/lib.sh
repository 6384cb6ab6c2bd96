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
