/**
 * The environment's own install and migration commands, run in the app folder. They are shell
 * text written by the environment's owner (trusted, like a Makefile): spliced raw, after `cd dir &&`.
 * Values cutover adds (folder, variables) are quoted once.
 */
import { passwordInput, type PgTarget } from './pg.ts';
import { command, raw, sh, type Command, type Fragment } from './shell.ts';

function exportsOf(vars: Readonly<Record<string, string>>): Fragment {
  const entries = Object.entries(vars);
  if (entries.length === 0) return raw('');
  return sh`export ${entries.map(([k, v]) => raw(`${k}=${sh`${v}`.text}`))} && `;
}

/** libpq's variables, so migration tools find the database without a password on a command line. */
export function pgEnv(db: PgTarget): Record<string, string> {
  return { PGHOST: db.host, PGPORT: String(db.port), PGUSER: db.user, PGDATABASE: db.name };
}

export function appCommand(dir: string, userCommand: string, vars: Readonly<Record<string, string>> = {}, password?: string): Command {
  const { prefix, extra } = passwordInput(password);
  return command(sh`cd ${dir} && ${prefix}${exportsOf(vars)}${raw(userCommand)}`, extra);
}
