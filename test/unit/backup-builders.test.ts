import { describe, expect, it } from 'vitest';
import { parseRowCounts, pg, ROW_COUNTS_SQL } from '../../tasks/lib/commands/pg.ts';
import { display } from '../../tasks/lib/commands/shell.ts';
import { backupPlan } from '../../tasks/lib/backup/dump.ts';
import { backupBaseName, compactTimestamp, dumpExtension, manifestPathFor, tagForFileName } from '../../tasks/lib/backup/names.ts';

const db = { name: 'harena', host: '127.0.0.1', port: 5432, user: 'harena' };
const CONN = '-h 127.0.0.1 -p 5432 -U harena -d harena';
const PW = 'IFS= read -r PGPASSWORD && export PGPASSWORD && ';

describe('pg backup builders (exact strings)', () => {
  it('dump: custom and plain, to stdout, never prompting; the password on stdin only', () => {
    expect(pg.dump(db, 'custom').script).toBe(`pg_dump -Fc --no-password ${CONN}`);
    expect(pg.dump(db, 'plain').script).toBe(`pg_dump -Fp --no-password ${CONN}`);
    const c = pg.dump(db, 'custom', "pa ss'wd");
    expect(c.script).toBe(`${PW}pg_dump -Fc --no-password ${CONN}`);
    expect(c.stdin).toBe("pa ss'wd\n");
    expect(c.redact).toEqual(["pa ss'wd"]);
    expect(display(c)).not.toContain("pa ss'wd");
    // a full dump is never run "for real" by --dry-run
    expect(c.readOnly).toBeUndefined();
    expect(pg.dump({ ...db, name: "it's; rm -rf /" }, 'custom').script).toBe(`pg_dump -Fc --no-password -h 127.0.0.1 -p 5432 -U harena -d 'it'\\''s; rm -rf /'`);
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

  it('parseRowCounts splits at the last tab; anything else in a name is kept', () => {
    expect(parseRowCounts('Odd Schema.We\'ird tab\t2\npublic.a\t1000\npublic.empty\t0\n')).toEqual({
      "Odd Schema.We'ird tab": 2,
      'public.a': 1000,
      'public.empty': 0,
    });
    expect(parseRowCounts('')).toEqual({});
    expect(() => parseRowCounts('public.a\n')).toThrow('unexpected row count line: "public.a"');
    expect(() => parseRowCounts('public.a\tmany\n')).toThrow('unexpected row count line');
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
  it('the dump, version and counts on the host; the full read here (custom format only)', () => {
    const at = new Date('2025-11-21T21:13:05Z');
    const p = backupPlan({ db, password: 'pw1', format: 'custom', dir: '/srv/backups/staging', fromTag: 'v1', toTag: 'v2', now: at });
    expect(p.dumpPath).toBe('/srv/backups/staging/20251121T211305Z_v1_to_v2.dump');
    expect(p.onHost.map((c) => c.script)).toEqual([pg.dump(db, 'custom', 'pw1').script, pg.serverVersion(db, 'pw1').script, pg.rowCounts(db, 'pw1').script]);
    expect(p.here.map((c) => c.script)).toEqual(['pg_restore -f /dev/null /srv/backups/staging/20251121T211305Z_v1_to_v2.dump']);
    expect(backupPlan({ db, format: 'plain', dir: '/b', fromTag: null, toTag: 'v2', now: at }).here).toEqual([]);
  });
});
