// A full-screen live view the way top or k9s draw one: the alternate screen (the scrollback is left
// alone and comes back on exit), the cursor hidden, each frame drawn from the top-left corner over
// the previous one (no clear, so no flicker), and nothing written when the frame did not change.
// Pure but for the injected `write`. Shared by `brupop demo` (kit/demo/run.ts) and
// `brupop status --watch` (src/status/watch.ts).

export const ENTER_ALT_SCREEN = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
export const LEAVE_ALT_SCREEN = "\x1b[?25h\x1b[?1049l";
/** Cursor to the top-left corner. */
export const HOME = "\x1b[H";
/** Erase to the end of the line / of the screen. */
export const ERASE_LINE = "\x1b[K";
export const ERASE_BELOW = "\x1b[J";

export class LiveScreen {
  readonly #write: (text: string) => void;
  #active = false;
  #last: string | undefined;
  /** Frames actually written (unchanged frames are skipped). */
  writes = 0;

  constructor(write: (text: string) => void) {
    this.#write = write;
  }

  get active(): boolean {
    return this.#active;
  }

  enter(): void {
    if (this.#active) return;
    this.#active = true;
    this.#last = undefined;
    this.#write(ENTER_ALT_SCREEN);
  }

  /** Draws `lines` (already fitted to the terminal) unless they are what is on the screen. */
  draw(lines: readonly string[]): boolean {
    if (!this.#active) return false;
    const text = lines.join("\n");
    if (text === this.#last) return false;
    this.#last = text;
    this.#write(`${HOME}${lines.map((l) => `${l}${ERASE_LINE}`).join("\n")}${ERASE_BELOW}`);
    this.writes++;
    return true;
  }

  /** The next draw writes even if unchanged (after a resize). */
  invalidate(): void {
    this.#last = undefined;
  }

  leave(): void {
    if (!this.#active) return;
    this.#active = false;
    this.#write(LEAVE_ALT_SCREEN);
  }
}

export interface TermSize {
  columns: number;
  rows: number;
}

/** A terminal to draw on: its size, read at each frame, and a resize hook (returns the unhook). */
export interface Terminal {
  size(): TermSize;
  onResize(listener: () => void): () => void;
}

/** `stream` as a Terminal, or undefined when it is not one (a pipe, a file). */
export function terminalOf(stream: NodeJS.WriteStream): Terminal | undefined {
  if (stream.isTTY !== true) return undefined;
  return {
    size: () => ({ columns: stream.columns || 80, rows: stream.rows || 24 }),
    onResize: (listener) => {
      stream.on("resize", listener);
      return () => stream.off("resize", listener);
    },
  };
}

/** At most `w` columns; a cut cell ends with "…". */
export function truncate(s: string, w: number): string {
  if (w <= 0) return "";
  const chars = [...s];
  return chars.length <= w ? s : `${chars.slice(0, w - 1).join("")}…`;
}

/**
 * `lines` fitted to `size`: each cut to the width (a wrapped line would push the frame down), and if
 * there are too many, the first `head` and last `tail` lines kept and the middle cut, its last shown
 * line replaced by `more(hidden)`.
 */
export function fitLines(
  lines: readonly string[],
  size: TermSize,
  keep: { head: number; tail: number; more: (hidden: number) => string },
): string[] {
  const cols = Math.max(1, size.columns);
  const height = Math.max(1, size.rows);
  let out: readonly string[] = lines;
  if (lines.length > height) {
    const tail = lines.slice(Math.max(keep.head, lines.length - keep.tail));
    const middle = lines.slice(keep.head, lines.length - tail.length);
    const room = Math.max(0, height - keep.head - tail.length - 1);
    out =
      middle.length === 0
        ? lines.slice(0, height)
        : [
            ...lines.slice(0, keep.head),
            ...middle.slice(0, room),
            keep.more(middle.length - room),
            ...tail,
          ].slice(0, height);
  }
  return out.map((l) => truncate(l, cols));
}
