// /readyz bodies rendered from typed check results, and the kinds the
// driver-health gauges are counted from.

#include "run/readiness_report.h"

#include <gtest/gtest.h>

#include "metrics/metrics.h"

namespace pgq::worker {
namespace {

using Kind = Problem::Kind;

TEST(ReadinessReportTest, ReadyBodyListsEveryCheck) {
  ReadinessReport report;
  report.Add({"pooled_connections", kPoolEndpoint, {}});
  report.Add({"schema", {}, {}});
  const Readiness r = report.ToReadiness();
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.body.dump(),
            R"({"status":"ready","checks":[{"name":"pooled_connections","ok":true,)"
            R"("endpoint":"pool"},{"name":"schema","ok":true}]})");
}

TEST(ReadinessReportTest, FailingReasonNamesTheEndpointAndJoinsProblems) {
  ReadinessReport report;
  report.Add({"pooled_connections",
              kPoolEndpoint,
              {{Kind::kInTransaction, "left in a transaction block"},
               {Kind::kIsolation, "isolation is serializable"}}});
  report.Add({"listener", kListenerEndpoint, {{Kind::kOther, "listener is down"}}});
  report.Add({"draining", {}, {{Kind::kOther, "the worker is shutting down"}}});
  const Readiness r = report.ToReadiness();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.body.dump(),
            R"({"status":"not ready","checks":[{"name":"pooled_connections","ok":false,)"
            R"("endpoint":"pool","reason":"pool endpoint (database): left in a transaction )"
            R"(block; isolation is serializable"},{"name":"listener","ok":false,)"
            R"("endpoint":"listener","reason":"listener endpoint (database.listener): )"
            R"(listener is down"},{"name":"draining","ok":false,)"
            R"("reason":"the worker is shutting down"}]})");
}

TEST(ReadinessReportTest, KindsAreFoundByValueNotByText) {
  ReadinessReport report;
  // A message that mentions isolation does not make an isolation problem.
  report.Add({"lease", kPoolEndpoint, {{Kind::kConnectionFailed, "isolation? transaction block?"}}});
  EXPECT_TRUE(report.Has(Kind::kConnectionFailed));
  EXPECT_FALSE(report.Has(Kind::kIsolation));
  EXPECT_FALSE(report.Has(Kind::kInTransaction));
  report.Add({"pooled_connections", kPoolEndpoint,
              {{ProblemKindOf(ConnectionStateError::Kind::kIsolation), "x"}}});
  EXPECT_TRUE(report.Has(Kind::kIsolation));
  EXPECT_EQ(ProblemKindOf(ConnectionStateError::Kind::kInTransaction), Kind::kInTransaction);
}

}  // namespace
}  // namespace pgq::worker
