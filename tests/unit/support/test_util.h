#pragma once
// Small helpers shared by the unit tests.

#include <gtest/gtest.h>

#include <chrono>
#include <ctime>
#include <exception>
#include <string>
#include <thread>

#include "pgq/error.h"
#include "pgq/runtime.h"

namespace pgq::testing_util {

/// Runs `body`, expects a pgq::LogicError and returns its message.
template <typename Body>
std::string LogicErrorMessage(Body body) {
  try {
    body();
  } catch (const LogicError& error) {
    return error.what();
  } catch (const std::exception& error) {
    ADD_FAILURE() << "expected pgq::LogicError, got another exception: " << error.what();
    return {};
  }
  ADD_FAILURE() << "expected pgq::LogicError, nothing was thrown";
  return {};
}

/// Polls `condition` until it holds or `timeout` passes; whether it held.
/// For waiting on other threads: assert on the outcome, never sleep first.
template <typename Condition>
bool Eventually(Condition condition, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// A fixed UTC instant (never the wall clock).
inline Clock::time_point At(int year, int month, int day, int hour = 0, int minute = 0,
                            int second = 0) {
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  return Clock::from_time_t(timegm(&tm));
}

}  // namespace pgq::testing_util
