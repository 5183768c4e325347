/**
 * Progress line on stderr: rewritten in place with `\r` on a terminal, one line per step otherwise
 * (so that logs of a redirected run stay readable).
 */

/** Writable stream with an optional `isTTY`, such as `process.stderr`. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** Receiver of a run's progress: the terminal line of the CLI, or the web page's progress bar. */
export interface ProgressReporter {
  /** Shows a step; `detail` (such as the run count) may be shown next to it. */
  update(step: string, detail?: string): void;
  /** Shows a message that stays, such as a failure. */
  log(message: string): void;
  /** Removes the current step. */
  clear(): void;
  /**
   * Receives the number of finished cases before each case starts. The page waits for the
   * returned promise, so that it can repaint between the synchronous timing loops.
   */
  caseStarting?(finished: number, total: number): void | Promise<void>;
}

export class Progress implements ProgressReporter {
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
