// A full-screen live view the way top or k9s draw one: the alternate screen (the scrollback is left
// alone and comes back on exit), the cursor hidden, each frame drawn from the top-left corner over
// the previous one (no clear, so no flicker), and nothing written when the frame did not change.
// Pure but for the injected `write`.

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
