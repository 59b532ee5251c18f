/**
 * How cutover writes durations, ages and sizes, in one place: tables, summaries, reports and
 * refusals all say `2h 5m`, `1.2 s` and `1.5 MiB` the same way. Pure.
 */

/** 90061 s -> `1d 1h`; the two largest units (an age on a table, not a stopwatch). */
export function ageText(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  const parts: [number, string][] = [
    [Math.floor(s / 86400), 'd'],
    [Math.floor((s % 86400) / 3600), 'h'],
    [Math.floor((s % 3600) / 60), 'm'],
    [s % 60, 's'],
  ];
  const first = parts.findIndex(([n]) => n > 0);
  if (first < 0) return '0s';
  return parts
    .slice(first, first + 2)
    .filter(([n]) => n > 0)
    .map(([n, u]) => `${n}${u}`)
    .join(' ');
}

/** Whole seconds as every unit: 7503 -> `2h 5m 3s` (a lock's age against its TTL). */
export function hmsText(sec: number): string {
  const parts = [
    [Math.floor(sec / 3600), 'h'],
    [Math.floor((sec % 3600) / 60), 'm'],
    [sec % 60, 's'],
  ] as const;
  return parts.filter(([n]) => n > 0).map(([n, u]) => `${n}${u}`).join(' ') || '0s';
}

/** A step's duration: 850 -> `850 ms`, 1234 -> `1.2 s`, 125000 -> `2m 5s`, 3_725_000 -> `1h 2m`. */
export function elapsedText(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
}

/** A configured duration as written: 93600000 -> `26h`, 1800000 -> `30m`, 1500 -> `1500ms`. */
export function durationText(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** 1536 KiB -> `1.5 MiB`. */
export function kibText(kib: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = kib;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** A file's size on a table: `512 B`, `1.5 MiB`; `MISSING` when the file is gone (null). */
export function sizeText(bytes: number | null): string {
  return bytes === null ? 'MISSING' : bytes < 1024 ? `${bytes} B` : kibText(bytes / 1024);
}

/** A size in a report, exact bytes beside it: `12.3 kB (12345 bytes)`. */
export function sizeWithBytes(bytes: number): string {
  return bytes < 1e6 ? `${(bytes / 1e3).toFixed(1)} kB (${bytes} bytes)` : `${(bytes / 1e6).toFixed(2)} MB (${bytes} bytes)`;
}

/** `12.3 MB`: sizes in progress lines and plans (decimal, as disks are sold). */
export function mbText(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/** An error message in one line: its first line, and when that ends with ':', the first line of what it introduces. */
export function oneLine(message: string): string {
  const lines = message.split('\n').map((l) => l.trim()).filter(Boolean);
  const first = lines[0] ?? '';
  return first.endsWith(':') && lines[1] ? `${first} ${lines[1]}` : first;
}
