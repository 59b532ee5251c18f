/**
 * The deploy lock on a host, as commands. `<state>/lock.json` is created with `ln` (fails when it
 * exists; the record is complete the moment the lock exists). Everything that changes an existing
 * lock (release, renew, force) or appends to the history runs under flock(1) on the state folder,
 * so a check and the change that follows it cannot interleave with another one. Records travel
 * on stdin; every other value is quoted once by `sh`.
 *
 * Output protocol: `held <host now, epoch s> <lock mtime, epoch s>` then the record's text, or
 * `free`, `absent`, `released`, `renewed`, `not-owner` (then a `held` block), `forced`; the two
 * sessions add `locked`, `started`, `finished` and a `history` section (sections.ts).
 *
 * The sessions are one command each where there were two: `takeAndStart` takes the lock and (told
 * on stdin) appends the run's "started" line, or releases the lock when told to or when the start
 * cannot be recorded; `finishAndRelease` appends the "finished" line and releases the lock once
 * told to (after the run's retention), or when stdin ends.
 */
import { noMarkers, sectioned } from './sections.ts';
import { command, raw, sh, type Command, type Fragment } from './shell.ts';

/** A lock record as these commands need it: it names its run; the rest travels as JSON. */
export interface LockRecordText {
  readonly runId: string;
}

/** Exit code of acquire/force when someone else holds the lock (sysexits EX_TEMPFAIL). */
export const LOCK_HELD_EXIT = 75;
export const MUTEX_WAIT_SEC = 30;

/** `d` = state folder, `f` = lock file, `h` = history file; `create`: mkdir -p with mode 0700. */
export function statePreamble(stateDir: string, create: boolean): Fragment {
  const vars = sh`d=${stateDir}; f="$d/lock.json"; h="$d/history.jsonl"`;
  return create ? sh`umask 077\n${vars}\nmkdir -p -m 0700 -- "$d" || exit 1` : vars;
}

/** Serialises the changes to one state folder (released by the kernel when the shell exits). */
export const takeMutex = raw(
  `exec 9< "$d" && flock -w ${MUTEX_WAIT_SEC} 9 || { echo "cannot take the mutex of $d within ${MUTEX_WAIT_SEC} s" >&2; exit 1; }`,
);

/** Appends "$ev" as one line; a torn last line (a writer killed mid-line) is closed first. */
export const appendEventLine = raw(
  `if [ -s "$h" ] && [ -n "$(tail -c 1 -- "$h")" ]; then printf '\\n' >> "$h" || exit 1; fi\nprintf '%s\\n' "$ev" >> "$h" || exit 1`,
);

/** Reads the lock's text into r and its mtime into m from one open file (no mix of two records). */
const readLock = raw(`{ r=$(cat <&3) && m=$(stat -L -c %Y /dev/fd/3); } 2>/dev/null 3< "$f"`);
const printHeld = raw(`printf 'held %s %s\\n%s\\n' "$(date +%s)" "$m" "$r"`);
const unreadable = raw(`echo "cannot read $f" >&2; exit 1`);
const newTemp = raw(`t=$(mktemp "$d/.lock.XXXXXX") || exit 1\ntrap 'rm -f -- "$t"' EXIT`);

/** `held ...`, `free`, or exit 1 when the lock cannot be read (after statePreamble). */
export const lockStatusBody = sh`if ${readLock}; then ${printHeld}; elif [ -e "$f" ]; then ${unreadable}; else echo free; fi`;

/** The exact text JSON.stringify gives the record's runId: cannot match inside another value. */
const runIdText = (runId: string): string => `"runId":${JSON.stringify(runId)}`;

/** Which lock operations exist, as commands; see the header for their output. */
export const lock = {
  /** Exit 0: taken. Exit 75: held (the holder is printed). */
  acquire: (stateDir: string, record: LockRecordText): Command =>
    command(
      sh`${statePreamble(stateDir, true)}
${newTemp}
cat > "$t" && [ -s "$t" ] || { echo 'no lock record on stdin' >&2; exit 1; }
for i in 1 2 3 4 5; do
  e=$(ln -- "$t" "$f" 2>&1) && exit 0
  if ${readLock}; then ${printHeld}; exit ${LOCK_HELD_EXIT}; fi
done
printf '%s\\n' "$e" >&2
exit 1`,
      { stdin: `${JSON.stringify(record)}\n` },
    ),

  /** `held ...` or `free`. */
  status: (stateDir: string): Command =>
    command(sh`${statePreamble(stateDir, false)}\n${lockStatusBody}`, { readOnly: true }),

  /** Removes the lock only when it is this run's: `released`, `absent` or `not-owner` + holder. */
  release: (stateDir: string, runId: string): Command => ownerOnly(stateDir, runId, raw(`rm -f -- "$f" && echo released`)),

  /** Restarts the TTL clock (touch) only when the lock is this run's: `renewed`, `absent` or `not-owner`. */
  renew: (stateDir: string, runId: string): Command => ownerOnly(stateDir, runId, raw(`touch -c -- "$f" && echo renewed`)),

  /**
   * Replaces the lock whose text is still exactly `seenRaw` (what the operator was shown) with
   * `record`, appending `eventLine` to the history first. Exit 75 with `held ...`/`free` when the
   * lock changed meanwhile.
   */
  force: (stateDir: string, record: LockRecordText, seenRaw: string, eventLine: string): Command =>
    command(
      sh`${statePreamble(stateDir, true)}
${takeMutex}
IFS= read -r rec && IFS= read -r ev && [ -n "$rec" ] && [ -n "$ev" ] || { echo 'expected the lock record and the history event on stdin' >&2; exit 1; }
if ${readLock}; then [ "$r" = ${seenRaw} ] || { ${printHeld}; exit ${LOCK_HELD_EXIT}; }; elif [ -e "$f" ]; then ${unreadable}; else echo free; exit ${LOCK_HELD_EXIT}; fi
${newTemp}
printf '%s\\n' "$rec" > "$t" || exit 1
${appendEventLine}
mv -f -- "$t" "$f" || exit 1
echo forced`,
      { stdin: `${JSON.stringify(record)}\n${eventLine}\n` },
    ),
};

function ownerOnlyBody(runId: string, change: Fragment): Fragment {
  return sh`[ -e "$f" ] || { echo absent; exit 0; }
${takeMutex}
if ${readLock}; then case "$r" in *${runIdText(runId)}*) ${change};; *) echo not-owner; ${printHeld};; esac; elif [ -e "$f" ]; then ${unreadable}; else echo absent; fi`;
}

function ownerOnly(stateDir: string, runId: string, change: Fragment): Command {
  return command(sh`${statePreamble(stateDir, false)}
${ownerOnlyBody(runId, change)}`);
}

/** How long a session waits for its next instruction before it goes on as if stdin had ended. */
export const SESSION_WAIT_SEC = 600;

/** The whole history, as a `history` section (after statePreamble). */
const historySection = sectioned([{ name: 'history', body: sh`if [ -e "$h" ]; then ${noMarkers} < "$h"; fi` }]);
const releaseOwn = (runId: string) => sh`(
${ownerOnlyBody(runId, raw(`rm -f -- "$f" && echo released`))}
)`;
const appendFromStdin = sh`(
${takeMutex}
IFS= read -r ev && [ -n "$ev" ] || { echo 'no history event on stdin' >&2; exit 1; }
${appendEventLine}
)`;

/**
 * An event line short enough to travel in the command itself (quoted once): the host then needs
 * nothing from stdin before it can answer, one round trip less. Longer lines go on stdin.
 */
export const INLINE_EVENT_MAX = 8 * 1024;

function oneLine(line: string): string {
  if (line.includes('\n') || line === '') throw new Error('a history event must be one non-empty line');
  return line;
}

const appendInline = (line: string) => sh`(
${takeMutex}
ev=${oneLine(line)}
${appendEventLine}
)`;

export const lockSession = {
  /**
   * The lock record travels in the command. With `started` (the run's "started" line), it is
   * appended as soon as the lock is this run's, in the same command, nothing read from stdin;
   * without it, the command waits for `started` and the event on stdin (one line each), or `release`.
   * Prints `locked` once the lock is this run's (then the history section when `history`), then
   * `started`, or `released`/`absent`/`not-owner` when it released the lock instead: told to, or
   * because the start could not be recorded (exit 1, the reason on stderr). Exit 75: held.
   */
  takeAndStart: (stateDir: string, record: LockRecordText, o: { history: boolean; started?: string }): Command =>
    command(
      sh`${statePreamble(stateDir, true)}
${newTemp}
printf '%s\\n' ${JSON.stringify(record)} > "$t" || exit 1
for i in 1 2 3 4 5; do
  e=$(ln -- "$t" "$f" 2>&1) && break
  if ${readLock}; then ${printHeld}; exit ${LOCK_HELD_EXIT}; fi
  [ "$i" = 5 ] && { printf '%s\\n' "$e" >&2; exit 1; }
done
echo locked${o.history ? sh`\n${historySection}` : sh``}
${
  o.started !== undefined
    ? sh`${appendInline(o.started)} && { echo started; exit 0; }
${releaseOwn(record.runId)}
exit 1`
    : sh`IFS= read -r -t ${SESSION_WAIT_SEC} next || next=
if [ "$next" = started ]; then
  ${appendFromStdin} && { echo started; exit 0; }
  ${releaseOwn(record.runId)}
  exit 1
fi
${releaseOwn(record.runId)}`
}`,
    ),

  /**
   * Appends the "finished" event (in the command when it is at most INLINE_EVENT_MAX long, else
   * the first line on stdin) and prints `finished` (else `not-recorded`, the reason on stderr), the
   * history section when `history`; then, after the next line on stdin (`release`), the end of
   * stdin or SESSION_WAIT_SEC: `released`, `absent` or `not-owner` (the lock is removed only when it
   * is still `runId`'s).
   */
  finishAndRelease: (stateDir: string, runId: string, o: { history: boolean; finished?: string }): Command =>
    command(
      sh`${statePreamble(stateDir, true)}
if ${o.finished !== undefined ? appendInline(o.finished) : appendFromStdin}; then echo finished; else echo not-recorded; fi${o.history ? sh`\n${historySection}` : sh``}
IFS= read -r -t ${SESSION_WAIT_SEC} next || next=
${releaseOwn(runId)}`,
    ),
};
