#pragma once
// Small helpers shared by the unit tests.

#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <string>
#include <thread>

#include "pgq/error.h"

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

}  // namespace pgq::testing_util
