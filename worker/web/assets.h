#pragma once
// The console's only asset, compiled in: no CDN, works in an air-gapped
// cluster. Served at /assets/console.css.

#include <string_view>

namespace pgq::worker::web {

inline constexpr std::string_view kConsoleCssPath = "/assets/console.css";

inline constexpr std::string_view kConsoleCss = R"css(
:root { color-scheme: light dark; --line: #8884; --muted: #888; --bad: #c0392b; --ok: #27ae60; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .6em 1.2em;
         border-bottom: 1px solid var(--line); }
header nav a { margin-right: 1em; }
header nav a.active { font-weight: 600; text-decoration: none; }
main { padding: 1em 1.2em; max-width: 1400px; }
h1 { font-size: 1.3em; margin: .2em 0 .8em; }
h2 { font-size: 1.1em; margin: 1.4em 0 .5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3em .6em; border-bottom: 1px solid var(--line);
         vertical-align: top; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .6em 1em; min-width: 10em; }
.card .value { font-size: 1.6em; font-variant-numeric: tabular-nums; }
.card.bad .value { color: var(--bad); }
.muted { color: var(--muted); }
.status-failed { color: var(--bad); font-weight: 600; }
.status-picked { color: var(--ok); }
pre { white-space: pre-wrap; word-break: break-all; border: 1px solid var(--line);
      padding: .6em; border-radius: 4px; max-height: 30em; overflow: auto; }
form.filters { display: flex; gap: .8em; align-items: end; flex-wrap: wrap; margin-bottom: 1em; }
form.filters label { display: flex; flex-direction: column; font-size: .9em; }
dl.fields { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1.2em; }
dl.fields dt { color: var(--muted); }
dl.fields dd { margin: 0; }
.pager { margin-top: 1em; display: flex; gap: 1.5em; }
.error { color: var(--bad); }
button { padding: .3em .9em; }
)css";

}  // namespace pgq::worker::web
