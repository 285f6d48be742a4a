#include "run/log_format.h"

#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace pgq::worker {
namespace {

// %v with JSON string escaping, for the json log format.
class JsonEscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string escaped =
        nlohmann::json(std::string(msg.payload.data(), msg.payload.size())).dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    // dump() quotes the string; the pattern supplies the quotes itself.
    dest.append(escaped.data() + 1, escaped.data() + escaped.size() - 1);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonEscapedMessage>();
  }
};

}  // namespace

void SetupLogging(const LoggingConfig& logging) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("pgq", sink);
  auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
  if (logging.json) {
    formatter->add_flag<JsonEscapedMessage>('*').set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","thread":%t,"msg":"%*"})");
  } else {
    formatter->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %-5l [%n] %v");
  }
  logger->set_formatter(std::move(formatter));
  logger->set_level(spdlog::level::from_str(logging.level));
  spdlog::set_default_logger(logger);
  if (const char* level = std::getenv("PGQ_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(level));
  }
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace pgq::worker
