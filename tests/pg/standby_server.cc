#include "standby_server.h"

#include <unistd.h>

#include <cstdlib>
#include <regex>

#include "pg_fixture.h"
#include "worker_process.h"

namespace pgq::testing {
namespace {

std::string Quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

}  // namespace

std::string StandbyServer::AsOwner(const std::string& command) const {
  // PostgreSQL refuses to run as root: the cluster belongs to postgres then.
  if (::geteuid() == 0) return "runuser -u postgres -- sh -c " + Quote(command);
  return command;
}

StandbyServer::StandbyServer(const std::string& primary_dsn) {
  std::smatch m;
  static const std::regex kHostPort(R"(@([^:/]+):(\d+)/)");
  if (!std::regex_search(primary_dsn, m, kHostPort)) {
    error_ = "PGQ_TEST_DSN has no host:port to take a base backup from";
    return;
  }
  const std::string host = m[1], primary_port = m[2];
  const char* bindir = std::getenv("PGQ_PG_BINDIR");
  bindir_ = bindir != nullptr ? bindir : "/usr/lib/postgresql/15/bin";
  char tmpl[] = "/tmp/pgq-standby-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    error_ = "cannot create a temporary directory";
    return;
  }
  dir_ = tmpl;
  if (::geteuid() == 0) RunCommand("chown postgres: " + Quote(dir_));
  port_ = FreePort();
  const auto backup = RunCommand(AsOwner(
      bindir_ + "/pg_basebackup -h " + host + " -p " + primary_port + " -U postgres -D " +
      dir_ + "/data -R -X stream -c fast --no-sync 2>&1"));
  if (backup.exit_code != 0) {
    error_ = "pg_basebackup failed: " + backup.output;
    return;
  }
  // Later lines win: its own port and socket directory.
  RunCommand(AsOwner("printf \"port = %s\\nunix_socket_directories = '%s'\\nhot_standby = on\\n\" " +
                     std::to_string(port_) + " " + Quote(dir_) + " >> " + dir_ +
                     "/data/postgresql.conf"));
  const auto start = RunCommand(AsOwner(bindir_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ +
                                        "/server.log -w -t 60 start 2>&1"));
  if (start.exit_code != 0) {
    error_ = "standby did not start: " + start.output +
             RunCommand("tail -n 20 " + Quote(dir_ + "/server.log")).output;
  }
}

StandbyServer::~StandbyServer() {
  if (dir_.empty()) return;
  RunCommand(AsOwner(bindir_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w -t 30 stop 2>&1"));
  RunCommand("rm -rf " + Quote(dir_));
}

std::string StandbyServer::Dsn(const std::string& extra) const {
  std::string dsn = "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres";
  if (!extra.empty()) dsn += "?" + extra;
  return dsn;
}

bool StandbyServer::Promote() {
  const auto promoted =
      RunCommand(AsOwner(bindir_ + "/pg_ctl -D " + dir_ + "/data -w -t 60 promote 2>&1"));
  if (promoted.exit_code != 0) error_ = "pg_ctl promote failed: " + promoted.output;
  return promoted.exit_code == 0;
}

}  // namespace pgq::testing
