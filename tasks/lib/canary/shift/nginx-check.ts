/**
 * What `nginx -T` says about the configuration nginx loads (pure): which files, whether cutover's
 * include is one of them, where the upstream is defined and whether anything sends traffic to it.
 */

/** `nginx -T` output -> file -> its text (the dump heads each file with `# configuration file PATH:`). */
export function dumpFiles(dump: string): Map<string, string> {
  const files = new Map<string, string>();
  let current: string | null = null;
  let lines: string[] = [];
  const flush = () => {
    if (current !== null) files.set(current, lines.join('\n'));
  };
  for (const line of dump.split('\n')) {
    const m = /^# configuration file (.+):$/.exec(line);
    if (m) {
      flush();
      current = m[1]!;
      lines = [];
    } else lines.push(line);
  }
  flush();
  return files;
}

/** The text without `#` comments (nginx's own rule, ignoring quoted `#`, which upstream names never hold). */
const uncommented = (text: string) => text.replace(/#[^\n]*/g, '');

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Problems in the loaded configuration for an upstream cutover owns in `include` ([] when none). */
export function dumpProblems(dump: string, o: { include: string; upstream: string; includeExists: boolean }): string[] {
  const files = dumpFiles(dump);
  if (!files.size) return [`nginx's dump of its configuration is empty or unreadable: cannot check that ${o.include} is loaded`];
  const problems: string[] = [];
  const name = escape(o.upstream);
  if (o.includeExists && !files.has(o.include))
    problems.push(`nginx does not load ${o.include}: add \`include ${o.include};\` to the http block (nginx loads: ${[...files.keys()].join(', ')})`);
  const defined = new RegExp(`(^|[\\s;{}])upstream\\s+${name}\\s*\\{`);
  for (const [file, text] of files)
    if (file !== o.include && defined.test(uncommented(text)))
      problems.push(`upstream ${o.upstream} is also defined in ${file}: cutover must own it alone; move that block's servers out (cutover writes them in ${o.include})`);
  const used = new RegExp(`\\b(proxy|grpc|uwsgi|scgi|fastcgi)_pass\\s+([a-z]+://)?${name}\\s*[;/]`);
  if (![...files.values()].some((t) => used.test(uncommented(t))))
    problems.push(`no \`proxy_pass http://${o.upstream}\` in the configuration nginx loads: traffic would not go through the upstream cutover writes`);
  return problems;
}
