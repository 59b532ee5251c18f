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
 * pg_dump's options per format. Plain SQL drops every object it creates first (`--clean
 * --if-exists`), so psql can restore it into a database that still holds them; a custom-format
 * dump gets the same from pg_restore --clean at restore time. Recorded in each manifest.
 */
export const DUMP_OPTIONS: Readonly<Record<DumpFormat, readonly string[]>> = { custom: ['-Fc'], plain: ['-Fp', '--clean', '--if-exists'] };

/** The user tables (ordinary and partitioned): not the system's (`pg_*` schemas: pg_catalog, pg_toast, other sessions' pg_temp_N). */
const USER_TABLES =
  `from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
  `where c.relkind in ('r', 'p') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_' `;

/**
 * Exact row count of every user table, one `schema.table<TAB>count` line each, in one statement:
 * query_to_xml runs a `count(*)` per table (n_live_tup is an estimate).
 */
export const ROW_COUNTS_SQL =
  `select n.nspname || '.' || c.relname || E'\\t' || ` +
  `(xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text ` +
  USER_TABLES +
  `order by n.nspname, c.relname`;

/** One line: how many user tables, a tab, the first three names (`3<TAB>public.a, public.b, public.c`). Reads the catalog only. */
export const USER_TABLES_SQL =
  `select count(*) || E'\\t' || coalesce(string_agg(t, ', ' order by t) filter (where i <= 3), '') ` +
  `from (select n.nspname || '.' || c.relname as t, row_number() over (order by n.nspname, c.relname) as i ` +
  USER_TABLES +
  `) x`;

/**
 * What the snapshot session reads, in this order. `open` starts a read-only REPEATABLE READ
 * transaction and answers one line, `snapshot<TAB><id><TAB><server version>`; `counts` answers
 * one `schema.table<TAB>count` line per table, in that transaction's snapshot; `close` ends it.
 */
export const SNAPSHOT_SQL = {
  open:
    'begin isolation level repeatable read, read only;\n' +
    "select 'snapshot' || E'\\t' || pg_export_snapshot() || E'\\t' || current_setting('server_version');\n",
  // the marker line after the counts says they are all there: the run goes on without waiting for the session to end
  counts: `${ROW_COUNTS_SQL};\nselect 'counted';\n`,
  close: 'commit;\n',
} as const;

/** The line SNAPSHOT_SQL.counts ends with (a count line always holds a tab; this one none). */
export const COUNTED_LINE = 'counted';

/** `snapshot<TAB>00000003-0000001B-1<TAB>15.18 (Debian ...)` -> its parts, or null when the line is not that. */
export function parseSnapshotLine(line: string): { snapshot: string; serverVersion: string } | null {
  const m = /^snapshot\t([0-9A-F]+-[0-9A-F]+-[0-9]+)\t(.+)$/.exec(line);
  return m ? { snapshot: m[1]!, serverVersion: m[2]! } : null;
}

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

  /** How many user tables there are, and the first names (USER_TABLES_SQL): cheap, the catalog only. */
  userTables: (db: PgTarget, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -v ON_ERROR_STOP=1 ${connArgs(db)} -Atc ${USER_TABLES_SQL}`, { ...extra, readOnly: true });
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
   * The whole database on standard output, for the runner to stream into a local file, as the
   * exported snapshot whose id is the next line on standard input sees it (see snapshotSession):
   * the command can start before the snapshot exists, and pg_dump runs only once it has the id.
   * Not marked readOnly although it changes nothing: dry-run must not run a full dump.
   */
  dump: (db: PgTarget, format: DumpFormat, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}IFS= read -r snapshot && pg_dump ${DUMP_OPTIONS[format]} --snapshot="$snapshot" --no-password ${connArgs(db)}`, extra);
  },

  /**
   * A psql session that reads its SQL from standard input, which the caller keeps open: it writes
   * SNAPSHOT_SQL.open and .counts at once, reads the snapshot id from the first line of output,
   * runs pg_dump with it, and writes SNAPSHOT_SQL.close only after pg_dump ended. The counts are
   * then exactly the rows the dump holds. The password (when there is one) is the first line in.
   */
  snapshotSession: (db: PgTarget, password?: string): Command => {
    const { prefix, extra } = passwordInput(password);
    return command(sh`${prefix}psql -X -w -q -At -v ON_ERROR_STOP=1 ${connArgs(db)}`, extra);
  },

  /** Reads a custom-format dump completely (`--list` reads only the table of contents and misses truncation). */
  readDump: (file: string): Command => command(sh`pg_restore -f /dev/null ${file}`, { readOnly: true }),

  /** The same full read of a custom-format dump, from standard input: the dump as it arrives (backup/stream-read.ts). */
  readDumpStream: (): Command => command(raw('pg_restore -f /dev/null'), { readOnly: true }),
};

/** One `schema.table<TAB>count` line -> [name, count]. The tab is the last one: names may hold anything else. */
export function parseRowCountLine(line: string): [string, number] {
  const tab = line.lastIndexOf('\t');
  const n = Number(line.slice(tab + 1));
  if (tab < 0 || !/^\d+$/.test(line.slice(tab + 1)) || !Number.isSafeInteger(n)) throw new Error(`unexpected row count line: ${JSON.stringify(line)}`);
  return [line.slice(0, tab), n];
}

/** `schema.table<TAB>count` lines -> { 'schema.table': count } (a whole output; streams use backup/counts.ts). */
export function parseRowCounts(stdout: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    if (!line) continue;
    const [name, n] = parseRowCountLine(line);
    counts[name] = n;
  }
  return counts;
}

/** Restore that can be repeated, all or nothing: one transaction, existing objects dropped first, stop at the first error (`-j` cannot be combined with it). */
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
