/**
 * Progress line on stderr: rewritten in place with `\r` on a terminal, one line per step otherwise
 * (so that logs of a redirected run stay readable).
 */

/** Writable stream with an optional `isTTY`, such as `process.stderr`. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export class Progress {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private lineOpen = false;

  constructor(stream: ProgressStream) {
    this.stream = stream;
    this.tty = stream.isTTY === true;
  }

  /** Shows a step. `detail` (such as the run count) is shown only on a terminal, where it costs no extra line. */
  update(step: string, detail = ""): void {
    if (this.tty) {
      // ESC [ K clears the rest of a longer previous line.
      this.stream.write(`\r${step}${detail === "" ? "" : ` ${detail}`}\x1b[K`);
      this.lineOpen = true;
    } else if (detail === "") {
      this.stream.write(`${step}\n`);
    }
  }

  /** Writes a message on its own line, ending an open progress line first. */
  log(message: string): void {
    this.clear();
    this.stream.write(`${message}\n`);
  }

  /** Removes the progress line on a terminal. */
  clear(): void {
    if (this.lineOpen) {
      this.stream.write("\r\x1b[K");
      this.lineOpen = false;
    }
  }
}
