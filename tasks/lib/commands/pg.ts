import { command, raw, sh, type Command, type Fragment } from './shell.ts';

export interface PgTarget {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
}

/**
 * The password travels on standard input and is exported inside the remote shell: never on a
 * command line (visible in ps) nor in the script (visible in logs and dry-run).
 */
export function passwordInput(password: string | undefined): { prefix: Fragment; extra: Pick<Command, 'stdin' | 'redact'> } {
  if (password === undefined) return { prefix: raw(''), extra: {} };
  return { prefix: raw('IFS= read -r PGPASSWORD && export PGPASSWORD && '), extra: { stdin: `${password}\n`, redact: [password] } };
}

function connArgs(db: PgTarget): Fragment {
  return sh`-h ${db.host} -p ${db.port} -U ${db.user} -d ${db.name}`;
}

export type DumpFormat = 'custom' | 'plain';

/**
 * Exact row count of every user table (ordinary and partitioned), one `schema.table<TAB>count`
 * line each, in one statement: query_to_xml runs a `count(*)` per table (n_live_tup is an estimate).
 * `pg_*` schemas are the system's (pg_catalog, pg_toast, other sessions' pg_temp_N).
 */
export const ROW_COUNTS_SQL =
  `select n.nspname || '.' || c.relname || E'\\t' || ` +
  `(xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text ` +
  `from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
  `where c.relkind in ('r', 'p') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_' ` +
  `order by n.nspname, c.relname`;

export const pg = {
  /** The server version as PostgreSQL reports it, e.g. `15.18 (Debian 15.18-0+deb12u1)`; doubles as "does the database answer?". */
  serverVersion: (db: PgTarget, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -v ON_ERROR_STOP=1 ${connArgs(db)} -Atc ${'show server_version'}`, { ...extra, readOnly: true });
  },

  /** Size of the database in bytes (`pg_database_size`): an upper bound for a dump, checked against free disk. */
  size: (db: PgTarget, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -v ON_ERROR_STOP=1 ${connArgs(db)} -Atc ${'select pg_database_size(current_database())'}`, { ...extra, readOnly: true });
  },

  /** Exact per-table row counts in a read-only transaction (see ROW_COUNTS_SQL and parseRowCounts). */
  rowCounts: (db: PgTarget, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -v ON_ERROR_STOP=1 ${connArgs(db)} -Atq -1 -c ${'set transaction read only'} -c ${ROW_COUNTS_SQL}`, {
      ...extra,
      readOnly: true,
    });
  },

  /**
   * The whole database on standard output, for the runner to stream into a local file.
   * Not marked readOnly although it changes nothing: dry-run must not run a full dump.
   */
  dump: (db: PgTarget, format: DumpFormat, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}pg_dump ${raw(format === 'custom' ? '-Fc' : '-Fp')} --no-password ${connArgs(db)}`, extra);
  },

  /** Reads a custom-format dump completely (`--list` reads only the table of contents and misses truncation). */
  readDump: (file: string): Command => command(sh`pg_restore -f /dev/null ${file}`, { readOnly: true }),
};

/** `schema.table<TAB>count` lines -> { 'schema.table': count }. The tab is the last one: names may hold anything else. */
export function parseRowCounts(stdout: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const tab = line.lastIndexOf('\t');
    const n = Number(line.slice(tab + 1));
    if (tab < 0 || !Number.isSafeInteger(n)) throw new Error(`unexpected row count line: ${JSON.stringify(line)}`);
    counts[line.slice(0, tab)] = n;
  }
  return counts;
}

/** Restore that can be repeated, all or nothing (FACTS.md): one transaction, stop at the first error. */
export const RESTORE_FLAGS = ['--clean', '--if-exists', '--single-transaction', '--no-owner', '--no-acl', '--exit-on-error'] as const;

export const pgRestore = {
  /** Receive a dump on stdin into `file` (mode 0600). Touches nothing live. */
  upload: (file: string): Command => command(sh`umask 077 && cat > ${file}`),
  /** Replace the database's content with the dump's, in one transaction. */
  restore: (db: PgTarget, file: string, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}pg_restore -w ${RESTORE_FLAGS} ${connArgs(db)} ${file}`, extra);
  },
  /** Plain SQL dumps: psql, one transaction, stop at the first error. */
  restorePlain: (db: PgTarget, file: string, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -q -v ON_ERROR_STOP=1 --single-transaction ${connArgs(db)} -f ${file}`, extra);
  },
  remove: (file: string): Command => command(sh`rm -f -- ${file}`),
};
