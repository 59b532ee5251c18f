import { command, sh, type Command, type Fragment } from './shell.ts';

const systemctl = (sudo: boolean): Fragment => (sudo ? sh`sudo -n systemctl` : sh`systemctl`);

export const systemd = {
  /** Exit 0 when the unit file exists (journalctl would silently accept a typo). */
  unitExists: (unit: string, sudo: boolean): Command => command(sh`${systemctl(sudo)} cat -- ${unit} >/dev/null`, { readOnly: true }),
  /** One line per unit (active|inactive|failed|...); exit 0 only when all are active. */
  isActive: (units: readonly string[]): Command => command(sh`systemctl is-active -- ${units}`, { readOnly: true }),
  restart: (units: readonly string[], sudo: boolean): Command => command(sh`${systemctl(sudo)} restart -- ${units}`),
};
