#include <charconv>
#include <cctype>
#include <ctime>
#include <sstream>

#include "pgq/error.h"
#include "pgq/scheduler.h"

namespace pgq {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(text);
  while (std::getline(in, item, sep)) out.push_back(item);
  if (!text.empty() && text.back() == sep) out.emplace_back();
  return out;
}

int ParseValue(const std::string& token, int low, int high, const char* const* names,
               const std::string& field) {
  if (names != nullptr) {
    for (int i = 0; names[i] != nullptr; ++i) {
      if (token == names[i]) return low + i;
    }
  }
  if (token.empty() || token.find_first_not_of("0123456789") != std::string::npos) {
    throw LogicError("cron " + field + ": \"" + token + "\" is not a number");
  }
  // from_chars, not stoi: an over-long number must be a LogicError, not std::out_of_range.
  int value = 0;
  const auto [end, error] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (error != std::errc{} || end != token.data() + token.size() || value < low || value > high) {
    throw LogicError("cron " + field + ": " + token + " is outside " + std::to_string(low) + "-" +
                     std::to_string(high));
  }
  return value;
}

// Parses one field into a set of allowed values. Returns false for "*".
template <std::size_t N>
bool ParseField(const std::string& text, int low, int high, const char* const* names,
                const std::string& field, std::bitset<N>& out) {
  bool restricted = false;
  for (const auto& part : Split(text, ',')) {
    if (part.empty()) throw LogicError("cron " + field + ": empty list item in \"" + text + "\"");
    std::string range = part;
    int step = 1;
    if (auto slash = part.find('/'); slash != std::string::npos) {
      range = part.substr(0, slash);
      step = ParseValue(part.substr(slash + 1), 1, high - low + 1, nullptr, field);
    }
    int first = low, last = high;
    if (range == "*" || range == "?") {
      if (step == 1 && Split(text, ',').size() == 1) {
        for (int v = low; v <= high; ++v) out.set(static_cast<std::size_t>(v));
        return false;
      }
    } else if (auto dash = range.find('-'); dash != std::string::npos) {
      first = ParseValue(range.substr(0, dash), low, high, names, field);
      last = ParseValue(range.substr(dash + 1), low, high, names, field);
      if (first > last) throw LogicError("cron " + field + ": range " + range + " is reversed");
    } else {
      first = ParseValue(range, low, high, names, field);
      last = part.find('/') != std::string::npos ? high : first;
    }
    for (int v = first; v <= last; v += step) out.set(static_cast<std::size_t>(v));
    restricted = true;
  }
  return restricted;
}

const char* const kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun", "jul",
                               "aug", "sep", "oct", "nov", "dec", nullptr};
const char* const kDays[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

}  // namespace

std::string CronExpression::Normalize(std::string_view text) {
  std::istringstream in(Lower(text));
  std::string field, out;
  while (in >> field) out += (out.empty() ? "" : " ") + field;
  static const std::pair<const char*, const char*> kAliases[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  for (const auto& [alias, expansion] : kAliases) {
    if (out == alias) return expansion;
  }
  return out;
}

CronExpression CronExpression::Parse(std::string_view text) {
  CronExpression cron;
  cron.text_ = Normalize(text);
  std::istringstream in(cron.text_);
  std::vector<std::string> fields;
  std::string field;
  while (in >> field) fields.push_back(field);
  if (fields.size() != 5 && fields.size() != 6) {
    throw LogicError("cron expression \"" + std::string(text) +
                     "\" needs 5 fields (minute hour day month weekday) or 6 (seconds last)");
  }
  ParseField(fields[0], 0, 59, nullptr, "minute", cron.minutes_);
  ParseField(fields[1], 0, 23, nullptr, "hour", cron.hours_);
  cron.days_restricted_ = ParseField(fields[2], 1, 31, nullptr, "day of month", cron.days_);
  ParseField(fields[3], 1, 12, kMonths, "month", cron.months_);
  std::bitset<8> weekdays;
  cron.weekdays_restricted_ = ParseField(fields[4], 0, 7, kDays, "day of week", weekdays);
  for (std::size_t d = 0; d < 7; ++d) cron.weekdays_[d] = weekdays[d];
  if (weekdays[7]) cron.weekdays_[0] = true;  // 7 is Sunday too
  if (fields.size() == 6) {
    cron.has_seconds_ = true;
    ParseField(fields[5], 0, 59, nullptr, "second", cron.seconds_);
  } else {
    cron.seconds_.set(0);
  }
  return cron;
}

Clock::time_point CronExpression::Next(Clock::time_point after) const {
  std::time_t t = Clock::to_time_t(after);
  if (Clock::from_time_t(t) > after) --t;  // floor to the second
  t += 1;
  if (!has_seconds_) t += (60 - t % 60) % 60;
  // Bounded search: any valid expression fires within a few years.
  for (int guard = 0; guard < 1000000; ++guard) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    auto at = [&](int mon, int mday, int hour, int min, int sec) {
      std::tm next{};
      next.tm_year = tm.tm_year;
      next.tm_mon = mon;
      next.tm_mday = mday;
      next.tm_hour = hour;
      next.tm_min = min;
      next.tm_sec = sec;
      return timegm(&next);  // normalises overflow (e.g. month 12)
    };
    if (!months_[static_cast<std::size_t>(tm.tm_mon + 1)]) {
      t = at(tm.tm_mon + 1, 1, 0, 0, 0);
      continue;
    }
    const bool dom = days_[static_cast<std::size_t>(tm.tm_mday)];
    const bool dow = weekdays_[static_cast<std::size_t>(tm.tm_wday)];
    const bool day_ok = days_restricted_ && weekdays_restricted_ ? (dom || dow)
                        : days_restricted_                        ? dom
                        : weekdays_restricted_                    ? dow
                                                                  : true;
    if (!day_ok) {
      t = at(tm.tm_mon, tm.tm_mday + 1, 0, 0, 0);
      continue;
    }
    if (!hours_[static_cast<std::size_t>(tm.tm_hour)]) {
      t = at(tm.tm_mon, tm.tm_mday, tm.tm_hour + 1, 0, 0);
      continue;
    }
    if (!minutes_[static_cast<std::size_t>(tm.tm_min)]) {
      t = at(tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min + 1, 0);
      continue;
    }
    if (!seconds_[static_cast<std::size_t>(tm.tm_sec)]) {
      t = has_seconds_ ? t + 1 : at(tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min + 1, 0);
      continue;
    }
    return Clock::from_time_t(t);
  }
  throw LogicError("cron expression \"" + text_ + "\" never fires");
}

}  // namespace pgq
