// journalctl stand-in for a sandbox host: node journalctl.mjs ROOT [journalctl options...]
// Reads <root>/journal/<unit>.jsonl ({t: epoch µs, p: 0..7, m: message, pid}) and prints it the
// way the real journalctl does for -u -p --since --until -o json|json-pretty|short|short-iso|cat -n -r -g.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const [root, ...argv] = process.argv.slice(2);
const journalDir = path.join(root ?? '.', 'journal');

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

function level(s) {
  const n = /^[0-7]$/.test(s) ? Number(s) : LEVELS.indexOf(s);
  if (n < 0) fail(`Failed to parse log level: ${s}`);
  return n;
}

// -p X means 0..X; -p A..B means the range between the two, either order.
function priorities(s) {
  const [a, b] = s.includes('..') ? s.split('..').map(level) : [0, level(s)];
  const set = new Set();
  for (let i = Math.min(a, b); i <= Math.max(a, b); i++) set.add(i);
  return set;
}

const UNIT_US = { us: 1, usec: 1, ms: 1e3, msec: 1e3, s: 1e6, sec: 1e6, second: 1e6, seconds: 1e6,
  m: 60e6, min: 60e6, minute: 60e6, minutes: 60e6, h: 3600e6, hr: 3600e6, hour: 3600e6, hours: 3600e6,
  d: 86400e6, day: 86400e6, days: 86400e6, w: 604800e6, week: 604800e6, weeks: 604800e6 };

// Timestamps as systemd.time(7) reads them: @EPOCH[.frac], YYYY-MM-DD [HH:MM[:SS[.frac]]] [UTC],
// HH:MM[:SS], now/today/yesterday/tomorrow, and relative "-5m", "+1h 30min", "5 min ago". Result in µs.
function parseTime(input) {
  const s = input.trim();
  const nowUs = Date.now() * 1000;
  const day = (offset) => { const d = new Date(); d.setHours(0, 0, 0, 0); d.setDate(d.getDate() + offset); return d.getTime() * 1000; };
  if (s === 'now') return nowUs;
  if (s === 'today') return day(0);
  if (s === 'yesterday') return day(-1);
  if (s === 'tomorrow') return day(1);
  let m = /^@(\d+(?:\.\d+)?)$/.exec(s);
  if (m) return Math.round(Number(m[1]) * 1e6);
  m = /^(?:(\d{4})-(\d{2})-(\d{2}))?(?:(?:^|[ T])(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?(?:\s*(UTC|Z))?$/.exec(s);
  if (m && (m[1] || m[4])) {
    const [, y, mo, d, hh = '0', mm = '0', ss = '0', frac = '', utc] = m;
    const today = new Date();
    const parts = [y ? Number(y) : today.getFullYear(), y ? Number(mo) - 1 : today.getMonth(), y ? Number(d) : today.getDate(),
      Number(hh), Number(mm), Number(ss)];
    const ms = utc ? Date.UTC(...parts) : new Date(...parts).getTime();
    if (!Number.isNaN(ms)) return ms * 1000 + Math.round(Number(frac || 0) * 1e6);
  }
  m = /^([+-]?)\s*((?:\d+(?:\.\d+)?\s*[a-z]+\s*)+?)\s*(ago)?$/.exec(s);
  if (m && (m[1] || m[3])) {
    let us = 0;
    for (const [, n, unit] of m[2].matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+)/g)) {
      const scale = UNIT_US[unit];
      if (!scale) fail(`Failed to parse timestamp: ${input}`);
      us += Number(n) * scale;
    }
    return Math.round(m[1] === '+' ? nowUs + us : nowUs - us);
  }
  fail(`Failed to parse timestamp: ${input}`);
}

const opts = { units: [], prio: null, since: null, until: null, output: 'short', lines: null,
  quiet: false, all: false, reverse: false, hostname: true, grep: null };
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  const long = /^(--[a-z-]+)=(.*)$/s.exec(arg);
  const flag = long ? long[1] : /^-[a-zA-Z]./.test(arg) ? arg.slice(0, 2) : arg;
  const inline = long ? long[2] : flag !== arg ? arg.slice(2) : undefined;
  const value = () => inline ?? (i + 1 < argv.length ? argv[++i] : fail(`journalctl: option '${arg}' requires an argument`));
  switch (flag) {
    case '-u': case '--unit': opts.units.push(value()); break;
    case '-p': case '--priority': opts.prio = priorities(value()); break;
    case '-S': case '--since': opts.since = parseTime(value()); break;
    case '-U': case '--until': opts.until = parseTime(value()); break;
    case '-o': case '--output': opts.output = value(); break;
    case '-g': case '--grep': opts.grep = value(); break;
    case '-n': case '--lines': {
      // -n takes an optional value: a bare -n means 10, like the real one
      const v = inline ?? (/^(\d+|all)$/.test(argv[i + 1] ?? '') ? argv[++i] : '10');
      opts.lines = v === 'all' ? null : Number(v);
      if (opts.lines !== null && !Number.isInteger(opts.lines)) fail(`Failed to parse lines '${v}'`);
      break;
    }
    case '-q': case '--quiet': opts.quiet = true; break;
    case '-a': case '--all': opts.all = true; break;
    case '-r': case '--reverse': opts.reverse = true; break;
    case '--no-hostname': opts.hostname = false; break;
    case '--no-pager': case '-l': case '--full': case '-m': case '--merge': case '--system': case '-b': case '-x': case '-e': break;
    default: fail(`journalctl: unrecognized option '${arg}'`);
  }
}
const OUTPUTS = ['json', 'json-pretty', 'short', 'short-iso', 'cat'];
if (!OUTPUTS.includes(opts.output)) fail(`Unknown output format '${opts.output}'.`);

function unitFiles() {
  let files;
  try { files = fs.readdirSync(journalDir).filter((f) => f.endsWith('.jsonl')); } catch { return []; }
  const names = files.map((f) => f.slice(0, -'.jsonl'.length));
  if (!opts.units.length) return names;
  const globs = opts.units.map((u) => new RegExp(`^${u.replace(/\.service$/, '').replace(/[.+^${}()|\\]/g, '\\$&')
    .replaceAll('*', '.*').replaceAll('?', '.')}$`));
  return names.filter((n) => globs.some((g) => g.test(n))); // an unknown unit matches nothing: no error
}

let entries = [];
for (const unit of unitFiles()) {
  for (const line of fs.readFileSync(path.join(journalDir, `${unit}.jsonl`), 'utf8').split('\n')) {
    if (!line) continue;
    let e;
    try { e = JSON.parse(line); } catch { continue; } // a line being written right now
    entries.push({ unit, t: e.t, p: e.p, m: e.m, pid: e.pid });
  }
}
const text = (m) => (Array.isArray(m) ? Buffer.from(m).toString('latin1') : m);
let grep = null;
if (opts.grep !== null) grep = new RegExp(opts.grep, /[A-Z]/.test(opts.grep) ? '' : 'i'); // smart case
entries = entries
  .filter((e) => (opts.prio ? opts.prio.has(e.p) : true))
  .filter((e) => (opts.since === null || e.t >= opts.since) && (opts.until === null || e.t <= opts.until))
  .filter((e) => (grep ? grep.test(text(e.m)) : true))
  .sort((a, b) => a.t - b.t);
if (opts.lines !== null) entries = opts.lines === 0 ? [] : entries.slice(-opts.lines);
if (opts.reverse) entries.reverse();

const host = os.hostname();
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n, w = 2) => String(n).padStart(w, '0');
function stamp(t, iso) {
  const d = new Date(Math.floor(t / 1000));
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (!iso) return `${MONTHS[d.getMonth()]} ${pad(d.getDate())} ${time}`;
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${time}${zone}`;
}
function shortMessage(m) {
  if (!Array.isArray(m)) return m;
  return opts.all ? Buffer.from(m).toString('latin1') : `[${m.length}B blob data]`;
}
function jsonMessage(m) {
  const size = Array.isArray(m) ? m.length : Buffer.byteLength(m);
  return size >= 4096 && !opts.all ? null : m; // like the real one: big fields are null unless -a
}

const out = [];
for (const e of entries) {
  if (opts.output === 'cat') out.push(shortMessage(e.m));
  else if (opts.output.startsWith('short')) {
    const who = `${e.unit}${e.pid ? `[${e.pid}]` : ''}`;
    out.push(`${stamp(e.t, opts.output === 'short-iso')} ${opts.hostname ? `${host} ` : ''}${who}: ${shortMessage(e.m)}`);
  } else {
    const record = { __REALTIME_TIMESTAMP: String(e.t), PRIORITY: String(e.p), SYSLOG_FACILITY: '3', _TRANSPORT: 'stdout',
      ...(e.pid ? { _PID: String(e.pid) } : {}), _HOSTNAME: host, SYSLOG_IDENTIFIER: e.unit,
      _SYSTEMD_UNIT: `${e.unit}.service`, MESSAGE: jsonMessage(e.m) };
    out.push(opts.output === 'json' ? JSON.stringify(record) : JSON.stringify(record, null, '\t'));
  }
}
// The real journalctl prints this even for -o json; only -q silences it.
if (!out.length && !opts.quiet) out.push('-- No entries --');
if (out.length) process.stdout.write(out.join('\n') + '\n');
if (grep && !entries.length) process.exitCode = 1; // --grep without a match fails, like grep
