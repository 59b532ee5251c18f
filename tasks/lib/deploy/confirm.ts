import { createInterface } from 'node:readline/promises';
import { UsageError } from '../base/errors.ts';

/** Production-style confirmation: the operator types the environment's name. */
export async function confirmByTyping(envName: string, print: (t: string) => void): Promise<void> {
  if (!process.stdin.isTTY) throw new UsageError(`environment ${envName} asks for confirmation and there is no terminal to ask in: run it in a terminal, or pass --yes.`);
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    print('');
    const answer = await rl.question(`Type "${envName}" to go ahead (anything else stops here, nothing changed): `);
    if (answer.trim() !== envName) throw new UsageError(`confirmation not given (typed ${JSON.stringify(answer.trim())}); nothing was changed.`);
  } finally {
    rl.close();
  }
}
