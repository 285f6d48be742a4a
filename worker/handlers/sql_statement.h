#pragma once
// How the `sql` handler sends its statement: which of $1 (payload) and $2
// (headers) it binds. Kept apart so the shared SQL toolkit (src/sql/) can
// replace the scanner later.

#include <string>

namespace pgq::worker {

/// The statement as sent and which of ($1 payload, $2 headers) it binds.
/// PostgreSQL refuses a bind with more parameters than the statement uses
/// ("bind message supplies 2 parameters, but prepared statement requires
/// 0") and cannot type an unused $1, so only referenced parameters are
/// bound: a statement that uses only $2 is renumbered, and one without
/// parameters goes through the simple query protocol (it may then hold
/// several statements, e.g. `BEGIN`).
struct SqlPlan {
  std::string sql;
  bool payload = false;
  bool headers = false;
};

/// Finds $1/$2 outside literals, quoted identifiers, comments and
/// dollar-quoted strings.
SqlPlan PlanStatement(const std::string& sql);

}  // namespace pgq::worker
