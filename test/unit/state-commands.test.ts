import { describe, expect, it } from 'vitest';
import { history } from '../../tasks/lib/commands/history.ts';
import { lock, LOCK_HELD_EXIT, lockSession } from '../../tasks/lib/commands/lock.ts';
import type { LockRecord } from '../../tasks/lib/state/records.ts';

const record: LockRecord = {
  runId: 'r-20260102-1',
  env: 'staging',
  tag: 'v1.2.0',
  task: 'deploy',
  owner: 'alice@laptop',
  pid: 4242,
  startedAt: '2026-01-02T03:04:05.000Z',
  ttlSec: 7200,
};
const recordLine = '{"runId":"r-20260102-1","env":"staging","tag":"v1.2.0","task":"deploy","owner":"alice@laptop","pid":4242,"startedAt":"2026-01-02T03:04:05.000Z","ttlSec":7200}';

const readLock = String.raw`{ r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"`;
const printHeld = String.raw`printf 'held %s %s\n%s\n' "$(date +%s)" "$m" "$r"`;
const mutex = String.raw`exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }`;

describe('lock command builders (exact strings)', () => {
  it('acquire: temp file + ln, the record on stdin, exit 75 with the holder when held', () => {
    const c = lock.acquire('/srv/.cutover/app', record);
    expect(c.script).toBe(String.raw`umask 077
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
t=$(mktemp "$d/.lock.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
cat > "$t" && [ -s "$t" ] || { echo 'no lock record on stdin' >&2; exit 1; }
for i in 1 2 3 4 5; do
  e=$(ln -- "$t" "$f" 2>&1) && exit 0
  if ${readLock}; then ${printHeld}; exit 75; fi
done
printf '%s\n' "$e" >&2
exit 1`);
    expect(c.stdin).toBe(`${recordLine}\n`);
    expect(c.readOnly).toBeUndefined();
    expect(LOCK_HELD_EXIT).toBe(75);
  });

  it('status: read-only, `held ...` or `free`', () => {
    const c = lock.status('/srv/.cutover/app');
    expect(c.script).toBe(
      String.raw`d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
if ${readLock}; then ${printHeld}; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo free; fi`,
    );
    expect(c.readOnly).toBe(true);
    expect(c.stdin).toBeUndefined();
  });

  it('release and renew: under the mutex, only when the exact runId text is in the lock', () => {
    const head = String.raw`d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
[ -e "$f" ] || { echo absent; exit 0; }
${mutex}
`;
    const tail = String.raw`;; *) echo not-owner; ${printHeld};; esac; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo absent; fi`;
    expect(lock.release('/srv/.cutover/app', 'r-20260102-1').script).toBe(
      `${head}if ${readLock}; then case "$r" in *'"runId":"r-20260102-1"'*) rm -f -- "$f" && echo released${tail}`,
    );
    expect(lock.renew('/srv/.cutover/app', 'r-20260102-1').script).toBe(
      `${head}if ${readLock}; then case "$r" in *'"runId":"r-20260102-1"'*) touch -c -- "$f" && echo renewed${tail}`,
    );
    // a runId with shell and glob characters is matched literally: quoted inside the case pattern
    expect(lock.release('/x', `a'b*"c`).script).toContain(String.raw`case "$r" in *'"runId":"a'\''b*\"c"'*)`);
    expect(lock.release('/x', 'r').stdin).toBeUndefined();
  });

  it('force: compares the whole seen text, appends the event, renames a complete file over the lock', () => {
    const seen = `{"runId":"old","owner":"bob's@ci"}`;
    const c = lock.force('/srv/.cutover/my app', record, seen, '{"type":"lock-forced"}');
    expect(c.script).toBe(String.raw`umask 077
d='/srv/.cutover/my app'; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
${mutex}
IFS= read -r rec && IFS= read -r ev && [ -n "$rec" ] && [ -n "$ev" ] || { echo 'expected the lock record and the history event on stdin' >&2; exit 1; }
if ${readLock}; then [ "$r" = '{"runId":"old","owner":"bob'\''s@ci"}' ] || { ${printHeld}; exit 75; }; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo free; exit 75; fi
t=$(mktemp "$d/.lock.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
printf '%s\n' "$rec" > "$t" || exit 1
if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\n' >> "$h" || exit 1; fi
printf '%s\n' "$ev" >> "$h" || exit 1
mv -f -- "$t" "$f" || exit 1
echo forced`);
    expect(c.stdin).toBe(`${recordLine}\n{"type":"lock-forced"}\n`);
  });
});

describe('lock sessions: two commands where there were four (exact strings)', () => {
  it('takeAndStart with the started line: the record and the line in the command, ln, then the append under the mutex, or the lock released', () => {
    const c = lockSession.takeAndStart('/srv/.cutover/app', record, { history: false, started: '{"type":"started","runId":"r-20260102-1"}' });
    expect(c.script).toBe(`umask 077
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
t=$(mktemp "$d/.lock.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
printf '%s\\n' '{"runId":"r-20260102-1","env":"staging","tag":"v1.2.0","task":"deploy","owner":"alice@laptop","pid":4242,"startedAt":"2026-01-02T03:04:05.000Z","ttlSec":7200}' > "$t" || exit 1
for i in 1 2 3 4 5; do
  e=$(ln -- "$t" "$f" 2>&1) && break
  if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r"; exit 75; fi
  [ "$i" = 5 ] && { printf '%s\\n' "$e" >&2; exit 1; }
done
echo locked
(
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
ev='{"type":"started","runId":"r-20260102-1"}'
if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\\n' >> "$h" || exit 1; fi
printf '%s\\n' "$ev" >> "$h" || exit 1
) && { echo started; exit 0; }
(
[ -e "$f" ] || { echo absent; exit 0; }
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then case "$r" in *'"runId":"r-20260102-1"'*) rm -f -- "$f" && echo released;; *) echo not-owner; printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r";; esac; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo absent; fi
)
exit 1`);
    expect(c.stdin).toBeUndefined();
    expect(c.readOnly).toBeUndefined();
  });

  it('takeAndStart for a re-check: waits for `started` and the event on stdin, or releases', () => {
    const c = lockSession.takeAndStart('/srv/.cutover/app', record, { history: false });
    expect(c.script).toBe(`umask 077
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
t=$(mktemp "$d/.lock.XXXXXX") || exit 1
trap 'rm -f -- "$t"' EXIT
printf '%s\\n' '{"runId":"r-20260102-1","env":"staging","tag":"v1.2.0","task":"deploy","owner":"alice@laptop","pid":4242,"startedAt":"2026-01-02T03:04:05.000Z","ttlSec":7200}' > "$t" || exit 1
for i in 1 2 3 4 5; do
  e=$(ln -- "$t" "$f" 2>&1) && break
  if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r"; exit 75; fi
  [ "$i" = 5 ] && { printf '%s\\n' "$e" >&2; exit 1; }
done
echo locked
IFS= read -r -t 600 next || next=
if [ "$next" = started ]; then
  (
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
IFS= read -r ev && [ -n "$ev" ] || { echo 'no history event on stdin' >&2; exit 1; }
if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\\n' >> "$h" || exit 1; fi
printf '%s\\n' "$ev" >> "$h" || exit 1
) && { echo started; exit 0; }
  (
[ -e "$f" ] || { echo absent; exit 0; }
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then case "$r" in *'"runId":"r-20260102-1"'*) rm -f -- "$f" && echo released;; *) echo not-owner; printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r";; esac; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo absent; fi
)
  exit 1
fi
(
[ -e "$f" ] || { echo absent; exit 0; }
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then case "$r" in *'"runId":"r-20260102-1"'*) rm -f -- "$f" && echo released;; *) echo not-owner; printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r";; esac; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo absent; fi
)`);
    expect(lockSession.takeAndStart('/srv/.cutover/app', record, { history: true }).script).toContain(
      `echo locked\nprintf '\\036%s\\n' history\n(\nif [ -e "$h" ]; then tr -d '\\036' < "$h"; fi\n) </dev/null\nprintf '\\n\\036=%s %s\\n' history "$?"\nIFS= read -r -t 600 next`,
    );
  });

  it('finishAndRelease: the finished line (quoted once) under the mutex, the history, then (told, or stdin ended) the owner-only release', () => {
    const c = lockSession.finishAndRelease('/srv/.cutover/app', 'r-20260102-1', { history: true, finished: `{"type":"finished","error":"it's broken"}` });
    expect(c.script).toBe(`umask 077
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
if (
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
ev='{"type":"finished","error":"it'\\''s broken"}'
if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\\n' >> "$h" || exit 1; fi
printf '%s\\n' "$ev" >> "$h" || exit 1
); then echo finished; else echo not-recorded; fi
printf '\\036%s\\n' history
(
if [ -e "$h" ]; then tr -d '\\036' < "$h"; fi
) </dev/null
printf '\\n\\036=%s %s\\n' history "$?"
IFS= read -r -t 600 next || next=
(
[ -e "$f" ] || { echo absent; exit 0; }
exec 9< "$d" && flock -w 30 9 || { echo "cannot take the mutex of $d within 30 s" >&2; exit 1; }
if { r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"; then case "$r" in *'"runId":"r-20260102-1"'*) rm -f -- "$f" && echo released;; *) echo not-owner; printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r";; esac; elif [ -e "$f" ]; then echo "cannot read $f" >&2; exit 1; else echo absent; fi
)`);
    expect(c.stdin).toBeUndefined();
    // a line too long for the command travels on stdin
    expect(lockSession.finishAndRelease('/srv/.cutover/app', 'r-20260102-1', { history: false }).script).toContain(`IFS= read -r ev && [ -n "$ev" ]`);
    expect(() => lockSession.finishAndRelease('/srv/.cutover/app', 'r', { history: false, finished: 'a\nb' })).toThrow(/one non-empty line/);
  });
});

describe('history command builders (exact strings)', () => {
  it('append: the line on stdin, under the mutex, a torn last line closed first', () => {
    const c = history.append('/srv/.cutover/app', '{"type":"started"}');
    expect(c.script).toBe(String.raw`umask 077
d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"
mkdir -p -m 0700 -- "$d" || exit 1
${mutex}
IFS= read -r ev && [ -n "$ev" ] || { echo 'no history event on stdin' >&2; exit 1; }
if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\n' >> "$h" || exit 1; fi
printf '%s\n' "$ev" >> "$h" || exit 1`);
    expect(c.stdin).toBe('{"type":"started"}\n');
    expect(() => history.append('/x', 'a\nb')).toThrow('a history event must be one non-empty line');
    expect(() => history.append('/x', '')).toThrow('a history event must be one non-empty line');
  });

  it('read: read-only, nothing when there is no history yet', () => {
    const c = history.read('/srv/.cutover/app');
    expect(c.script).toBe(`d=/srv/.cutover/app; f="$d/lock.json"; h="$d/history.jsonl"\nif [ -e "$h" ]; then cat -- "$h"; fi`);
    expect(c.readOnly).toBe(true);
  });
});
