// Transactional (outbox-style) enqueue: the job is written inside the
// caller's own transaction, together with the row it is about, so both
// commit or neither does, and the NOTIFY that wakes workers fires at commit.
//
//   PGQUEUER_DSN=postgresql://... producer_transactional ORDERS_TABLE ITEM...
//
// Creates ORDERS_TABLE (id bigserial, item text) if needed, then for each
// ITEM inserts an order and enqueues an "orders.ship" job carrying the
// order id, in one transaction per item. An item "fail" is rolled back after
// the enqueue, to show that neither the order nor its job remains.

#include <cstdlib>
#include <iostream>
#include <string>

#include <pqxx/pqxx>

#include "pgq/error.h"
#include "pgq/pqxx.h"
#include "pgq/queries.h"
#include "pgq/settings.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: producer_transactional ORDERS_TABLE ITEM...\n";
    return 2;
  }
  const char* dsn = std::getenv("PGQUEUER_DSN");
  try {
    pqxx::connection connection(dsn ? dsn : "");
    const std::string table = connection.quote_name(argv[1]);
    {
      pqxx::work tx(connection);
      tx.exec0("CREATE TABLE IF NOT EXISTS " + table + " (id bigserial PRIMARY KEY, item text)");
      tx.commit();
    }
    const auto settings = pgq::DBSettings::FromEnv();  // rendered once, reused per transaction
    int committed = 0;
    for (int i = 2; i < argc; ++i) {
      const std::string item = argv[i];
      pqxx::work tx(connection);
      const auto order = tx.exec_params1("INSERT INTO " + table + " (item) VALUES ($1) RETURNING id",
                                         item)[0]
                             .as<long>();
      pgq::TransactionExecutor executor(tx);  // statements run inside tx, no autocommit
      pgq::NewJob job;
      job.entrypoint = "orders.ship";
      job.payload = std::to_string(order);
      job.dedupe_key = "order-" + std::to_string(order);
      const pgq::JobId id = pgq::ProducerQueries(executor, settings).Enqueue(job);
      if (item == "fail") {
        tx.abort();  // the order and job `id` disappear together
        std::cout << "rolled back order " << order << " and job " << id << "\n";
        continue;
      }
      tx.commit();
      ++committed;
      std::cout << "order " << order << " -> job " << id << "\n";
    }
    std::cout << "committed " << committed << " orders with their jobs\n";
  } catch (const pgq::Error& e) {
    std::cerr << "producer_transactional: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "producer_transactional: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
