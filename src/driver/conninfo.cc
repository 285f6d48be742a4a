#include "pgq/conninfo.h"

#include <libpq-fe.h>

namespace pgq {

std::optional<ConninfoOptions> ParseConninfo(std::string_view conninfo) {
  const std::string text(conninfo);
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(text.c_str(), &error);
  if (error != nullptr) PQfreemem(error);
  if (options == nullptr) return std::nullopt;
  ConninfoOptions set;
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr) set.emplace_back(o->keyword, o->val);
  }
  PQconninfoFree(options);
  return set;
}

void AppendConninfo(std::string& out, std::string_view key, std::string_view value) {
  if (!out.empty()) out += ' ';
  out += key;
  out += "='";
  for (char c : value) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  out += '\'';
}

}  // namespace pgq
