# shellcheck shell=bash
# Loopback ports for the servers and workers a test starts. They are picked below the
# kernel's ephemeral range: a port inside it can be the local end of any outgoing
# connection (a test's own psql, curl or worker), and binding it then fails although
# nothing listens on it.

# pgq_free_port: prints a port nothing listens on. With PGQ_PORTS_FILE set, also one not
# handed out before in this run (recorded there), for scripts that start several servers
# before any of them binds.
pgq_free_port() {
  local low=32768 port
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
  ((low > 12000)) || low=32768
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    if [[ -n ${PGQ_PORTS_FILE:-} ]] && grep -qx "$port" "$PGQ_PORTS_FILE" 2>/dev/null; then
      continue
    fi
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
  done
  [[ -z ${PGQ_PORTS_FILE:-} ]] || echo "$port" >>"$PGQ_PORTS_FILE"
  echo "$port"
}
