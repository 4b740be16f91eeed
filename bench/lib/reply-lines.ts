/**
 * The load generators' lean reply reader: splits what arrives on a control connection into lines and
 * calls `onReply(code, line)` once per reply (a multi-line reply at its last line) while `active()`
 * holds. Text after the last line feed waits in `rest` for the next chunk.
 */
export class ReplyLines {
  private multi: string | null = null;

  constructor(
    private readonly onReply: (code: number, line: string) => void,
    private readonly active: () => boolean,
    public rest = '',
  ) {}

  feed(chunk: Buffer): void {
    this.rest += chunk.toString('latin1');
    let i: number;
    while (this.active() && (i = this.rest.indexOf('\n')) >= 0) {
      const line = this.rest.slice(0, i);
      this.rest = this.rest.slice(i + 1);
      if (this.multi !== null) {
        if (line.startsWith(this.multi) && line[3] === ' ') {
          this.multi = null;
          this.onReply(Number(line.slice(0, 3)), line);
        }
        continue;
      }
      if (line[3] === '-') {
        this.multi = line.slice(0, 3);
        continue;
      }
      const code = Number(line.slice(0, 3));
      if (code >= 100) this.onReply(code, line);
    }
  }
}
