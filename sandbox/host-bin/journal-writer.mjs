// Runs one unit of a sandbox host like systemd (Type=simple) and is its journald:
//   node journal-writer.mjs ROOT UNIT   (started by `systemctl start`, detached)
// Spawns `bash -c 'cd WD && exec ExecStart'` in its own session, writes run/UNIT.pid and
// run/UNIT.since (and its own pid in run/UNIT.writer), appends every output line to journal/UNIT.jsonl, and when the process
// and its output are done writes run/UNIT.exit = "PID CLEAN CODE STATUS".
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import fs from 'node:fs';
import path from 'node:path';

const [root, unit] = process.argv.slice(2);
if (!root || !unit) {
  process.stderr.write('usage: journal-writer.mjs ROOT UNIT\n');
  process.exit(2);
}
const runDir = path.join(root, 'run');
const journalFd = fs.openSync(path.join(root, 'journal', `${unit}.jsonl`), 'a');
const LINE_MAX = 48 * 1024; // journald's LineMax: longer lines are split
const CLEAN_SIGNALS = new Set(['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE']); // systemd's clean exits
const utf8 = new TextDecoder('utf-8', { fatal: true });
const nowUs = () => Math.round((performance.timeOrigin + performance.now()) * 1000);

function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

function append(pid, p, m) {
  fs.writeSync(journalFd, JSON.stringify({ t: nowUs(), p, m, pid }) + '\n');
}

// One line of a stream: journald's `<N>` prefix (N <= 7, up to 3 digits) sets the priority.
function emitLine(pid, bytes) {
  let priority = 6;
  const close = bytes.indexOf(0x3e); // '>'
  if (bytes[0] === 0x3c && close >= 2 && close <= 4) {
    const digits = bytes.subarray(1, close).toString('latin1');
    if (/^[0-9]+$/.test(digits) && Number(digits) <= 7) {
      priority = Number(digits);
      bytes = bytes.subarray(close + 1);
    }
  }
  let message;
  try {
    message = utf8.decode(bytes);
  } catch {
    message = Array.from(bytes); // journald keeps non-UTF-8 as bytes; journalctl -o json prints an array
  }
  append(pid, priority, message);
}

function readLines(stream, pid) {
  let pending = Buffer.alloc(0);
  return new Promise((resolve) => {
    stream.on('data', (chunk) => {
      let buf = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      let start = 0;
      for (let i = 0; i < buf.length; i++) {
        if (buf[i] === 0x0a || buf[i] === 0x00) {
          emitLine(pid, buf.subarray(start, i));
          start = i + 1;
        } else if (i - start + 1 >= LINE_MAX) {
          emitLine(pid, buf.subarray(start, i + 1));
          start = i + 1;
        }
      }
      pending = Buffer.from(buf.subarray(start));
    });
    stream.on('error', () => {});
    stream.on('close', () => {
      if (pending.length) emitLine(pid, pending); // a partial last line is flushed at end of stream
      resolve();
    });
  });
}

function parseUnit(text) {
  const service = { env: {} };
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    if (line.startsWith('[')) { section = line; continue; }
    const eq = line.indexOf('=');
    if (section !== '[Service]' || eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (key === 'Environment') {
      for (const word of splitWords(value)) {
        const i = word.indexOf('=');
        if (i > 0) service.env[word.slice(0, i)] = word.slice(i + 1);
      }
    } else service[key] = value;
  }
  return service;
}

// systemd word splitting for Environment=: whitespace-separated, "double" or 'single' quoted, \-escapes.
function splitWords(value) {
  const words = [];
  let word = null;
  let quote = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) { word = (word ?? '') + value[++i]; continue; }
    if (quote) { if (c === quote) quote = ''; else word = (word ?? '') + c; continue; }
    if (c === '"' || c === "'") { quote = c; word = word ?? ''; continue; }
    if (/\s/.test(c)) { if (word !== null) words.push(word); word = null; continue; }
    word = (word ?? '') + c;
  }
  if (word !== null) words.push(word);
  return words;
}

const shq = (s) => `'${s.replaceAll("'", `'\\''`)}'`;

const service = parseUnit(fs.readFileSync(path.join(root, 'units', `${unit}.service`), 'utf8'));
// Like systemd: a fresh environment, not the caller's; PATH is kept so `node` etc. resolve as for the caller.
const env = {
  PATH: process.env.PATH || '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: process.env.HOME || '/',
  LANG: 'C.UTF-8',
  ...(process.env.USER ? { USER: process.env.USER, LOGNAME: process.env.USER } : {}),
  ...service.env,
};
const cwd = service.WorkingDirectory || '/';
const child = spawn('/bin/bash', ['-c', `cd ${shq(cwd)} && exec ${service.ExecStart ?? 'false'}`], {
  detached: true, // setsid: the service leads its own session and process group
  stdio: ['ignore', 'pipe', 'pipe'],
  env,
});
const pid = child.pid ?? 0;
let exit = null;
const exited = new Promise((resolve) => {
  child.on('error', (err) => {
    append(pid, 3, `journal-writer: cannot start ${unit}: ${err.message}`);
    exit = { clean: 0, code: 'exited', status: 203 };
    resolve();
  });
  child.on('exit', (code, signal) => {
    const clean = code === 0 || (signal !== null && CLEAN_SIGNALS.has(signal)) ? 1 : 0;
    exit = signal
      ? { clean, code: 'killed', status: constants.signals[signal] ?? 0 }
      : { clean, code: 'exited', status: code ?? 0 };
    // Like KillMode=control-group: whatever the main process left behind in its group goes too.
    try { process.kill(-pid, 'SIGTERM'); } catch {}
    setTimeout(() => { try { process.kill(-pid, 'SIGKILL'); } catch {} }, 5000).unref();
    resolve();
  });
});
if (pid) {
  writeAtomic(path.join(runDir, `${unit}.writer`), `${process.pid}\n`);
  writeAtomic(path.join(runDir, `${unit}.since`), `${nowUs()}\n`);
  writeAtomic(path.join(runDir, `${unit}.pid`), `${pid}\n`);
}
await Promise.all([exited, readLines(child.stdout, pid), readLines(child.stderr, pid)]);
fs.closeSync(journalFd);
writeAtomic(path.join(runDir, `${unit}.exit`), `${pid} ${exit.clean} ${exit.code} ${exit.status}\n`);
