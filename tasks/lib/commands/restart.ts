/**
 * A host's services restarted in ONE command: the host's clock first (the journal scan after the
 * restart starts there), the custom restart commands in order, every systemd unit in one
 * `systemctl restart a b` (one per sudo setting), then the custom status commands, then all the
 * units waited for together until systemd says active (a unit that fails, or a deadline, stops it).
 *
 * Output: the clock (epoch seconds) on the first line, `\x1epids` and the units' main process ids
 * before the restart (0: none), what the restarts print, then marker lines:
 * `\x1erestarted` once every restart command succeeded; `\x1edown <i> <exit>` and the end of the
 * i-th custom service's logs (exit 4) when its status command fails; `\x1estates` and the units'
 * states on the same line, in order (exit 0 when all are active, 3 otherwise).
 */
import { command, raw, sh, type Command, type Fragment } from './shell.ts';

export interface CustomService {
  readonly restart: string;
  readonly status: string;
  readonly logs: string;
}

export interface RestartSpec {
  /** Services without systemd: their own commands (the environment's shell text), in order. */
  readonly custom: readonly CustomService[];
  readonly units: readonly { readonly unit: string; readonly sudo: boolean }[];
  /** How long the units may take to become active. */
  readonly waitSec: number;
  /** Lines of a custom service's logs shown when it is not running. */
  readonly logLines?: number;
}

/** Exit code when a custom service's status command fails after its restart. */
export const CUSTOM_DOWN_EXIT = 4;

/** `systemctl restart -- <units>`, one line for the units with sudo and one for the others. */
export function restartUnitsLines(units: RestartSpec['units']): Fragment[] {
  const withSudo = units.filter((u) => u.sudo).map((u) => u.unit);
  const without = units.filter((u) => !u.sudo).map((u) => u.unit);
  return [
    ...(withSudo.length ? [sh`sudo -n systemctl restart -- ${withSudo}`] : []),
    ...(without.length ? [sh`systemctl restart -- ${without}`] : []),
  ];
}

export function restartScript(spec: RestartSpec): Command {
  if (!Number.isInteger(spec.waitSec) || spec.waitSec < 1) throw new Error(`restartScript: waitSec must be a positive integer, got ${spec.waitSec}`);
  const names = spec.units.map((u) => u.unit);
  const lines: Fragment[] = [raw(`date +%s.%N`)];
  // the units' main processes before the restart (0: none), on one marker line
  if (names.length) lines.push(sh`printf '\\036pids %s\\n' "$(echo $(systemctl show -p MainPID --value -- ${names}))"`);
  for (const c of spec.custom) lines.push(sh`(\n${raw(c.restart)}\n) </dev/null || exit $?`);
  lines.push(...restartUnitsLines(spec.units).map((l) => sh`${l} || exit $?`), raw(`printf '\\036restarted\\n'`));
  spec.custom.forEach((c, i) =>
    lines.push(
      sh`( ${raw(c.status)}\n) </dev/null >/dev/null 2>&1; c=$?; if [ "$c" != 0 ]; then printf '\\036down %s %s\\n' ${i} "$c"; ( ${raw(c.logs)}\n) </dev/null 2>&1 | tail -n ${spec.logLines ?? 15}; exit ${CUSTOM_DOWN_EXIT}; fi`,
    ),
  );
  if (names.length)
    lines.push(
      sh`end=$((SECONDS + ${spec.waitSec}))
while :; do
  s=$(systemctl is-active -- ${names}) && break
  if printf '%s\\n' "$s" | grep -qx failed || [ "$SECONDS" -ge "$end" ]; then printf '\\036states %s\\n' "$(echo $s)"; exit 3; fi
  sleep 0.2
done
printf '\\036states %s\\n' "$(echo $s)"`,
    );
  return command(raw(lines.map((l) => l.text).join('\n')));
}
