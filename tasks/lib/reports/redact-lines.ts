/**
 * redactText for output that arrives in chunks (a command's stdout and stderr streamed to the
 * terminal): chunks are cut into lines, each complete line is redacted and passed on, so a secret
 * split across two chunks is still masked. A PEM private key spans lines: from its BEGIN line to
 * its END line nothing of it is passed on.
 */
import { REDACTED, redactText } from './redact.ts';

/** A line longer than this is passed on (redacted) without waiting for its end. */
export const MAX_LINE = 64 * 1024;

const KEY_BEGIN = /-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----/;
const KEY_END = /-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----/;

export interface LineRedactor {
  /** Some output; complete lines are passed on at once, redacted. */
  push(chunk: string): void;
  /** The end of the output: what is left of the last line is passed on. */
  end(): void;
}

/** `emit` receives redacted text, whole lines (with their newline) except at end(). */
export function lineRedactor(secrets: readonly string[], emit: (text: string) => void): LineRedactor {
  let partial = '';
  let inKey = false;
  const line = (text: string) => {
    if (inKey) {
      const end = KEY_END.exec(text);
      if (!end) return; // inside the key: nothing of it goes out
      inKey = false;
      emit(redactText(text.slice(end.index), secrets));
      return;
    }
    const begin = KEY_BEGIN.exec(text);
    if (begin && !KEY_END.test(text.slice(begin.index))) {
      inKey = true;
      emit(`${redactText(text.slice(0, begin.index), secrets)}${begin[0]}${REDACTED}${text.endsWith('\n') ? '\n' : ''}`);
      return;
    }
    emit(redactText(text, secrets));
  };
  return {
    push(chunk) {
      partial += chunk;
      let start = 0;
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n', start)) {
        line(partial.slice(start, nl + 1));
        start = nl + 1;
      }
      partial = partial.slice(start);
      if (partial.length > MAX_LINE) {
        line(partial);
        partial = '';
      }
    },
    end() {
      if (partial) line(partial);
      partial = '';
    },
  };
}
