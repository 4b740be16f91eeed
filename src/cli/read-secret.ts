/**
 * Reads a secret from stdin: the first line of a pipe, or, on a terminal, typed at a prompt (on stderr)
 * without echo. Backspace edits, Ctrl-C and Ctrl-D cancel.
 */
import type { ReadStream } from 'node:tty';
import { UsageError } from '../runtime/exit.js';

export async function readSecret(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  return input.isTTY ? readFromTerminal(prompt, input as ReadStream, output) : readFirstLine(input);
}

async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split('\n')[0]!.replace(/\r$/, '');
}

function readFromTerminal(prompt: string, input: ReadStream, output: NodeJS.WritableStream): Promise<string> {
  input.setRawMode(true); // before the prompt, so nothing typed after it is echoed
  input.setEncoding('utf8');
  input.resume();
  output.write(prompt);
  return new Promise((resolve, reject) => {
    let secret = '';
    const finish = (err?: Error) => {
      input.off('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(secret);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish();
        if (ch === '\u0003' || ch === '\u0004') return finish(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') secret = [...secret].slice(0, -1).join('');
        else if (ch >= ' ') secret += ch;
      }
    };
    input.on('data', onData);
  });
}
