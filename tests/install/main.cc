// Uses the installed library without a database: settings, the schema's SQL
// text, the job status names, DSN redaction and the version.
#include <iostream>
#include <string>

#include "pgq/driver.h"
#include "pgq/queries.h"
#include "pgq/schema.h"
#include "pgq/version.h"

int main() {
  const pgq::DBSettings settings = pgq::DBSettings::WithPrefix("consumer_");
  const pgq::Schema schema(settings);
  const std::string install = pgq::Schema::Render(schema.InstallStatements());
  const bool names_queue = install.find(settings.queue_table) != std::string::npos;

  std::cout << "library version: " << pgq::Version() << "\n"
            << "header version: " << PGQ_VERSION_STRING << " (" << PGQ_VERSION_MAJOR << "."
            << PGQ_VERSION_MINOR << "." << PGQ_VERSION_PATCH << ")\n"
            << "queue table: " << settings.QueueTable() << "\n"
            << "install sql names it: " << (names_queue ? "yes" : "no") << "\n"
            << "status: " << pgq::ToString(pgq::JobStatus::kQueued) << "\n"
            << "redacted: " << pgq::RedactConninfo("postgresql://app:secret@db/jobs") << "\n";
  return names_queue ? 0 : 1;
}
