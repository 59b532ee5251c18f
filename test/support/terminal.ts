/**
 * Runs a command on a pseudo-terminal (util-linux `script`) of a given size and replays what it
 * drew into a virtual terminal (@xterm/headless): the final screen and the scrollback, as a person
 * would see them after the command ended. The interactive renderer is what is tested here; piped
 * output uses another renderer.
 */
import { spawn } from 'node:child_process';
import xterm from '@xterm/headless';
import { quote } from '../../tasks/lib/commands/shell.ts';

export interface TerminalRun {
  readonly code: number | null;
  /** Every line of the terminal (scrollback then screen), trailing blanks removed. */
  readonly lines: string[];
  /** The raw bytes written to the terminal. */
  readonly raw: string;
}

export async function runInTerminal(
  argv: readonly string[],
  o: {
    cwd: string;
    env: NodeJS.ProcessEnv;
    cols?: number;
    rows?: number;
    input?: (write: (s: string) => void, output: () => string) => void;
    /** Closes the terminal (SIGKILL to `script`: the kernel hangs up its session, as a dropped SSH session does) once the output so far passes this. */
    hangUpWhen?: (output: string) => boolean;
  },
): Promise<TerminalRun> {
  const cols = o.cols ?? 160;
  const rows = o.rows ?? 50;
  const cmd = `stty cols ${cols} rows ${rows}; exec ${argv.map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: o.cwd, env: { ...o.env, TERM: 'xterm-256color' }, stdio: ['pipe', 'pipe', 'pipe'] });
  const chunks: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => chunks.push(d));
  child.stderr.on('data', (d: Buffer) => chunks.push(d));
  o.input?.((s) => child.stdin.write(s), () => Buffer.concat(chunks).toString('utf8'));
  if (o.hangUpWhen) {
    const check = () => {
      if (o.hangUpWhen!(Buffer.concat(chunks).toString('utf8'))) child.kill('SIGKILL');
      else child.stdout.once('data', check);
    };
    child.stdout.once('data', check);
  }
  const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const raw = Buffer.concat(chunks).toString('utf8');
  return { code, lines: await render(raw, cols, rows), raw };
}

async function render(raw: string, cols: number, rows: number): Promise<string[]> {
  const term = new xterm.Terminal({ cols, rows, scrollback: 10_000, allowProposedApi: true });
  await new Promise<void>((done) => term.write(raw, done));
  const buf = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < buf.length; i++) lines.push(buf.getLine(i)?.translateToString(true) ?? '');
  while (lines.length && !lines.at(-1)!.trim()) lines.pop();
  term.dispose();
  return lines;
}
