// AdminQueries against a real server: what readiness asks the catalog.

#include <gmock/gmock.h>

#include <optional>
#include <string>

#include "pg_fixture.h"

namespace pgq {
namespace {

using testing::QueriesPgTest;

class AdminQueriesTest : public QueriesPgTest {
 protected:
  void TearDown() override {
    if (!role_.empty()) {
      driver_->Execute("RESET ROLE");
      // Dropping the role drops its pg_db_role_setting rows too.
      admin().Execute("DROP ROLE IF EXISTS " + role_);
    }
    QueriesPgTest::TearDown();
  }
  std::string role_;
};

TEST_F(AdminQueriesTest, DefaultIsolationSettingFollowsAlterRoleAndDatabase) {
  // The test database sets none (tests that alter one use their own).
  EXPECT_EQ(q().DefaultIsolationSetting(), std::nullopt);

  // A role of its own, so that no other test's new connections see it;
  // the query reads current_user, which SET ROLE changes.
  role_ = "pgq_iso_" + token_;
  admin().Execute("CREATE ROLE " + role_ + " NOLOGIN");
  admin().Execute("ALTER ROLE " + role_ + " SET default_transaction_isolation = 'repeatable read'");
  driver_->Execute("SET ROLE " + role_);
  EXPECT_EQ(q().DefaultIsolationSetting(), std::optional<std::string>("repeatable read"));

  // The role's setting in this database wins over the role's own.
  const std::string database = Scalar("SELECT current_database()");
  admin().Execute("ALTER ROLE " + role_ + " IN DATABASE " + database +
                  " SET default_transaction_isolation = 'serializable'");
  EXPECT_EQ(q().DefaultIsolationSetting(), std::optional<std::string>("serializable"));

  // The session itself is untouched: only new connections would start there.
  EXPECT_EQ(driver_->Fetch("SHOW transaction_isolation").Text(0, "transaction_isolation"),
            "read committed");
}

}  // namespace
}  // namespace pgq
