/**
 * The commands a request-log source runs on a host, as data: list the log files (name and size),
 * and read a byte range of one. Pure; tested by exact string.
 */
import { command, raw, sh, type Command } from '../../commands/shell.ts';

/** `{date}` in a log path: the daily file's date. */
export const DATE_TOKEN = '{date}';
const DATE_GLOB = '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]';

/** The folder, and the file name split around `{date}` (no `{date}`: a single file). */
export function splitLogPath(path: string): { dir: string; prefix: string; suffix: string; dated: boolean } {
  const slash = path.lastIndexOf('/');
  const dir = path.slice(0, slash) || '/';
  const name = path.slice(slash + 1);
  const at = name.indexOf(DATE_TOKEN);
  if (at < 0) return { dir, prefix: name, suffix: '', dated: false };
  return { dir, prefix: name.slice(0, at), suffix: name.slice(at + DATE_TOKEN.length), dated: true };
}

/** Read ahead with a listing: the bytes of `name` (in the log's folder) from `offset`, at most `max`. */
export interface ReadAhead {
  readonly name: string;
  readonly offset: number;
  readonly max: number;
}

/**
 * One line per existing log file: `<size> <name>` (names without the folder). Nothing when there is
 * none. With `ahead`, in the same round trip: a NUL byte, then that file's bytes from its offset
 * (at most `max`; nothing when the file is gone or no longer than the offset).
 */
export function listLogFiles(path: string, ahead?: ReadAhead): Command {
  const { dir, prefix, suffix, dated } = splitLogPath(path);
  const glob = dated ? sh`${dir}/${prefix}${raw(DATE_GLOB)}${suffix}` : sh`${dir}/${prefix}`;
  const list = sh`for f in ${glob}; do [ -f "$f" ] && printf '%s %s\\n' "$(stat -c %s -- "$f")" "\${f##*/}"; done`;
  if (!ahead) return command(sh`${list}; exit 0`, { readOnly: true });
  const file = `${dir}/${ahead.name}`;
  return command(
    sh`${list}; printf '\\0'; [ -f ${file} ] && [ "$(stat -c %s -- ${file})" -gt ${ahead.offset} ] && tail -c +${ahead.offset + 1} -- ${file} | head -c ${ahead.max}; exit 0`,
    { readOnly: true },
  );
}

/** `length` bytes of `file` from byte `offset` (0-based), streamed. */
export function readLogBytes(file: string, offset: number, length: number): Command {
  return command(sh`tail -c +${offset + 1} -- ${file} | head -c ${length}`, { readOnly: true });
}
