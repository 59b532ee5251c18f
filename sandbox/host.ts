// A sandbox host: a folder that plays one Linux server (layout in sandbox/README.md).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface UnitSpec {
  name: string;
  description?: string;
  workingDirectory: string;
  execStart: string;
  environment?: Record<string, string>;
}

export const HOST_BIN_SOURCE: string = join(dirname(fileURLToPath(import.meta.url)), 'host-bin');

const unitName = (name: string): string => name.replace(/\.service$/, '');
const quoteEnv = (s: string): string => `"${s.replace(/["\\]/g, '\\$&')}"`;

export function unitFileText(unit: UnitSpec): string {
  const lines = ['[Unit]', `Description=${unit.description ?? unitName(unit.name)}`, '', '[Service]', 'Type=simple',
    `WorkingDirectory=${unit.workingDirectory}`, `ExecStart=${unit.execStart}`];
  for (const [key, value] of Object.entries(unit.environment ?? {})) lines.push(`Environment=${quoteEnv(`${key}=${value}`)}`);
  return `${lines.join('\n')}\n`;
}

/** Creates (or refreshes) <root>: stand-ins in bin/, the given units, and empty run/ journal/ app/. */
export async function createHostRoot(root: string, units: UnitSpec[]): Promise<void> {
  for (const dir of ['bin', 'units', 'run', 'journal', 'app']) await mkdir(join(root, dir), { recursive: true });
  for (const file of await readdir(HOST_BIN_SOURCE)) {
    const target = join(root, 'bin', file);
    await rm(target, { force: true }); // a running stand-in keeps its old inode
    await copyFile(join(HOST_BIN_SOURCE, file), target);
    await chmod(target, 0o755);
  }
  for (const unit of units) await writeFile(join(root, 'units', `${unitName(unit.name)}.service`), unitFileText(unit));
}

/** When the process started, in epoch ms (from /proc), or null if it does not exist. */
export function processStartedAt(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]); // field 22: starttime
    const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
    return btime * 1000 + (ticks * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Pids of the units running in <root>/run; a pid whose start time does not match .since (recycled) is left out. */
export function runningUnitPids(root: string): number[] {
  const runDir = join(root, 'run');
  let files: string[];
  try {
    files = readdirSync(runDir).filter((f) => f.endsWith('.pid'));
  } catch {
    return [];
  }
  const read = (file: string): number => {
    try {
      return Number(readFileSync(join(runDir, file), 'utf8').trim());
    } catch {
      return 0;
    }
  };
  const pids: number[] = [];
  for (const file of files) {
    const pid = read(file);
    const sinceUs = read(file.replace(/\.pid$/, '.since'));
    const started = pid > 1 ? processStartedAt(pid) : null;
    if (started !== null && sinceUs && Math.abs(started - sinceUs / 1000) < 3000) pids.push(pid);
  }
  return pids;
}

/** SIGTERM every unit's process group in <root>/run, SIGKILL what is left after 5 s. */
export async function stopHostUnits(root: string): Promise<void> {
  const groups = runningUnitPids(root).filter((pid) => signalGroup(pid, 'SIGTERM'));
  const deadline = Date.now() + 5000;
  while (groups.some((pid) => signalGroup(pid, 0)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const pid of groups) signalGroup(pid, 'SIGKILL');
}

/** Sends a signal to a process group; false if there is no such group. */
export function signalGroup(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** The pid runs and is not a zombie (an exited child that init has not reaped yet is gone for us). */
export function isRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** The command line of a process, words joined by spaces, or null when it cannot be read. */
export function commandLineOf(pid: number): string | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0+$/, '').replace(/\0/g, ' ');
  } catch {
    return null;
  }
}

/** The working folder of a process (` (deleted)` when it was removed), or null when it cannot be read. */
export function workingDirOf(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/**
 * The processes listening on a TCP port of this machine (any address, IPv4 or IPv6), from
 * /proc/net/tcp{,6} and the sockets in /proc/<pid>/fd. Processes of other users may be
 * invisible without the rights to read their fds: an empty answer means "unknown".
 */
export function listeningPids(port: number): number[] {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; st 0A is LISTEN; the inode is the 10th field
      if (f.length > 9 && f[3] === '0A' && parseInt(f[1]!.split(':')[1] ?? '', 16) === port) inodes.add(f[9]!);
    }
  }
  if (!inodes.size) return [];
  const pids: number[] = [];
  for (const name of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${name}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target = '';
      try {
        target = readlinkSync(`/proc/${name}/fd/${fd}`);
      } catch {
        continue;
      }
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1]!)) {
        pids.push(Number(name));
        break;
      }
    }
  }
  return pids.sort((a, b) => a - b);
}
