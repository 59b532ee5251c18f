import { describe, expect, it } from 'vitest';
import { DUMP_OPTIONS, parseRowCounts, parseSnapshotLine, pg, pgRestore, ROW_COUNTS_SQL, SNAPSHOT_SQL, USER_TABLES_SQL } from '../../tasks/lib/commands/pg.ts';
import { display } from '../../tasks/lib/commands/shell.ts';
import { backupPlan } from '../../tasks/lib/backup/dump.ts';
import { backupBaseName, compactTimestamp, dumpExtension, manifestPathFor, tagForFileName } from '../../tasks/lib/backup/names.ts';

const db = { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena' };
const CONN = '-h 127.0.0.1 -p 5432 -U harena -d harena';
const PW = 'IFS= read -r PGPASSWORD && export PGPASSWORD && ';

describe('pg backup builders (exact strings)', () => {
  it('dump: custom and plain, to stdout, never prompting; the password on stdin only', () => {
    expect(pg.dump(db, 'custom').script).toBe(`IFS= read -r snapshot && pg_dump -Fc --snapshot="$snapshot" --no-password ${CONN}`);
    // plain SQL drops what it creates first, so psql can restore it into a database that holds data
    expect(pg.dump(db, 'plain').script).toBe(`IFS= read -r snapshot && pg_dump -Fp --clean --if-exists --snapshot="$snapshot" --no-password ${CONN}`);
    expect(DUMP_OPTIONS).toEqual({ custom: ['-Fc'], plain: ['-Fp', '--clean', '--if-exists'] });
    const c = pg.dump(db, 'custom', "pa ss'wd");
    expect(c.script).toBe(`${PW}IFS= read -r snapshot && pg_dump -Fc --snapshot="$snapshot" --no-password ${CONN}`);
    expect(c.stdin).toBe("pa ss'wd\n");
    expect(c.redact).toEqual(["pa ss'wd"]);
    expect(display(c)).not.toContain("pa ss'wd");
    // a full dump is never run "for real" by --dry-run
    expect(c.readOnly).toBeUndefined();
    expect(pg.dump({ ...db, name: "it's; rm -rf /" }, 'custom').script).toBe(`IFS= read -r snapshot && pg_dump -Fc --snapshot="$snapshot" --no-password -h 127.0.0.1 -p 5432 -U harena -d 'it'\\''s; rm -rf /'`);
  });

  it('the session that exports the snapshot and counts in it reads its SQL on stdin (the dump reads the snapshot id there)', () => {
    expect(pg.snapshotSession(db).script).toBe(`psql -X -w -q -At -v ON_ERROR_STOP=1 ${CONN}`);
    const s = pg.snapshotSession(db, 'pw1');
    expect([s.script, s.stdin, s.redact, s.readOnly]).toEqual([`${PW}psql -X -w -q -At -v ON_ERROR_STOP=1 ${CONN}`, 'pw1\n', ['pw1'], undefined]);
    expect(SNAPSHOT_SQL).toEqual({
      open: "begin isolation level repeatable read, read only;\nselect 'snapshot' || E'\\t' || pg_export_snapshot() || E'\\t' || current_setting('server_version');\n",
      counts: `${ROW_COUNTS_SQL};\nselect 'counted';\n`,
      close: 'commit;\n',
    });
    expect(parseSnapshotLine('snapshot\t00000003-0000001B-1\t15.18 (Debian 15.18-0+deb12u1)')).toEqual({ snapshot: '00000003-0000001B-1', serverVersion: '15.18 (Debian 15.18-0+deb12u1)' });
    expect(parseSnapshotLine('snapshot\t$(id)\t15')).toBeNull();
    expect(parseSnapshotLine('public.a\t3')).toBeNull();
  });

  it('restore: pg_restore --clean in one transaction; plain SQL through psql in one transaction, stopping at the first error', () => {
    expect(pgRestore.restore(db, '/s/r.dump').script).toBe(`pg_restore -w --clean --if-exists --single-transaction --no-owner --no-acl --exit-on-error ${CONN} /s/r.dump`);
    expect(pgRestore.restorePlain(db, '/s/r.sql', 'pw1').script).toBe(`${PW}psql -X -w -q -v ON_ERROR_STOP=1 --single-transaction ${CONN} -f /s/r.sql`);
    expect(pgRestore.upload('/s/a b.dump').script).toBe(`umask 077 && cat > '/s/a b.dump'`);
  });

  it('serverVersion, size, readDump', () => {
    expect(pg.serverVersion(db).script).toBe(`psql -X -w -v ON_ERROR_STOP=1 ${CONN} -Atc 'show server_version'`);
    expect(pg.serverVersion(db, 'pw1').script).toBe(`${PW}psql -X -w -v ON_ERROR_STOP=1 ${CONN} -Atc 'show server_version'`);
    expect(pg.serverVersion(db).readOnly).toBe(true);
    expect(pg.size(db).script).toBe(`psql -X -w -v ON_ERROR_STOP=1 ${CONN} -Atc 'select pg_database_size(current_database())'`);
    expect(pg.readDump('/var/backups/a b.dump').script).toBe(`pg_restore -f /dev/null '/var/backups/a b.dump'`);
    expect(pg.readDump('/x.dump').readOnly).toBe(true);
  });

  it('rowCounts: exact count(*) per user table in one read-only psql call', () => {
    expect(ROW_COUNTS_SQL).toBe(
      `select n.nspname || '.' || c.relname || E'\\t' || ` +
        `(xpath('/row/c/text()', query_to_xml(format('select count(*) as c from %I.%I', n.nspname, c.relname), false, true, '')))[1]::text ` +
        `from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
        `where c.relkind in ('r', 'p') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_' ` +
        `order by n.nspname, c.relname`,
    );
    const q = ROW_COUNTS_SQL.replace(/'/g, `'\\''`);
    expect(pg.rowCounts(db).script).toBe(`psql -X -w -v ON_ERROR_STOP=1 ${CONN} -Atq -1 -c 'set transaction read only' -c '${q}'`);
    expect(pg.rowCounts(db, 'pw1').script.startsWith(PW)).toBe(true);
    expect(pg.rowCounts(db).readOnly).toBe(true);
  });

  it('userTables: how many user tables and the first three names, from the catalog only', () => {
    expect(USER_TABLES_SQL).toBe(
      `select count(*) || E'\\t' || coalesce(string_agg(t, ', ' order by t) filter (where i <= 3), '') ` +
        `from (select n.nspname || '.' || c.relname as t, row_number() over (order by n.nspname, c.relname) as i ` +
        `from pg_class c join pg_namespace n on n.oid = c.relnamespace ` +
        `where c.relkind in ('r', 'p') and n.nspname <> 'information_schema' and n.nspname !~ '^pg_' ) x`,
    );
    expect(pg.userTables(db).script).toBe(`psql -X -w -v ON_ERROR_STOP=1 ${CONN} -Atc '${USER_TABLES_SQL.replace(/'/g, `'\\''`)}'`);
    expect(pg.userTables(db).readOnly).toBe(true);
  });

  it('parseRowCounts splits at the last tab; anything else in a name is kept', () => {
    expect(parseRowCounts('Odd Schema.We\'ird tab\t2\npublic.a\t1000\npublic.empty\t0\n')).toEqual({
      "Odd Schema.We'ird tab": 2,
      'public.a': 1000,
      'public.empty': 0,
    });
    expect(parseRowCounts('')).toEqual({});
    expect(() => parseRowCounts('public.a\n')).toThrow('unexpected row count line: "public.a"');
    expect(() => parseRowCounts('public.a\tmany\n')).toThrow('unexpected row count line');
    expect(() => parseRowCounts('public.a\t-1\n')).toThrow('unexpected row count line');
  });
});

describe('backup file names', () => {
  const at = new Date('2025-11-21T21:13:05.123Z');
  it('timestamp, tags, extension, attempt', () => {
    expect(compactTimestamp(at)).toBe('20251121T211305Z');
    expect(backupBaseName(at, 'v1.0.0', 'v1.1.0')).toBe('20251121T211305Z_v1.0.0_to_v1.1.0');
    expect(backupBaseName(at, null, 'v1.0.0')).toBe('20251121T211305Z_none_to_v1.0.0');
    expect(backupBaseName(at, 'release/2025 q4', 'v2', 3)).toBe('20251121T211305Z_release-2025-q4_to_v2-3');
    expect(tagForFileName('$(id);x')).toBe('--id--x');
    expect([dumpExtension('custom'), dumpExtension('plain')]).toEqual(['.dump', '.sql']);
    expect(manifestPathFor('/b/20251121T211305Z_a_to_b.dump')).toBe('/b/20251121T211305Z_a_to_b.json');
    expect(manifestPathFor('/b/x.sql')).toBe('/b/x.json');
  });
});

describe('backupPlan (what --dry-run shows)', () => {
  it('the snapshot session and the dump in its snapshot on the host; the full read here as it arrives (custom format only)', () => {
    const at = new Date('2025-11-21T21:13:05Z');
    const p = backupPlan({ db, password: 'pw1', format: 'custom', dir: '/srv/backups/staging', fromTag: 'v1', toTag: 'v2', now: at });
    expect(p.dumpPath).toBe('/srv/backups/staging/20251121T211305Z_v1_to_v2.dump');
    expect(p.onHost.map((c) => c.script)).toEqual([pg.snapshotSession(db, 'pw1').script, `${PW}IFS= read -r snapshot && pg_dump -Fc --snapshot="$snapshot" --no-password ${CONN}`]);
    expect(p.sessionReads).toEqual([SNAPSHOT_SQL.open, SNAPSHOT_SQL.counts, SNAPSHOT_SQL.close]);
    expect(p.here.map((c) => c.script)).toEqual(['pg_restore -f /dev/null']);
    expect(p.here[0]!.readOnly).toBe(true);
    expect(p.hereReads).toBe('and, as it arrives, into pg_restore here, which reads all of it (then the file is re-hashed from disk):');
    expect(backupPlan({ db, format: 'plain', dir: '/b', fromTag: null, toTag: 'v2', now: at }).here).toEqual([]);
  });
});
