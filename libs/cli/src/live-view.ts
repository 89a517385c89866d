import type { CliOutput } from './command';

const ESC = '\u001b[';

/** ANSI styles, applied only on a terminal (`style(output)` gives plain text otherwise, or with NO_COLOR). */
export interface Styles {
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
}

const sgr =
  (open: number, close: number) =>
  (text: string): string =>
    `${ESC}${open}m${text}${ESC}${close}m`;

const ANSI: Styles = {
  bold: sgr(1, 22),
  dim: sgr(2, 22),
  red: sgr(31, 39),
  green: sgr(32, 39),
  yellow: sgr(33, 39),
  cyan: sgr(36, 39),
};

const PLAIN: Styles = {
  bold: (t) => t,
  dim: (t) => t,
  red: (t) => t,
  green: (t) => t,
  yellow: (t) => t,
  cyan: (t) => t,
};

export function styles(output: CliOutput, env: Readonly<Record<string, string | undefined>> = process.env): Styles {
  return output.terminal && !env['NO_COLOR'] ? ANSI : PLAIN;
}

/** The visible length of a line (without ANSI sequences). */
export function visibleLength(text: string): number {
  return stripAnsi(text).length;
}

export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;]*[A-Za-z]/g, '');
}

/**
 * A block of lines that changes over time (a progress line, the agents table), with log lines
 * printed above it. On a terminal the block is redrawn in place; otherwise (a pipe, a file, CI)
 * no ANSI and no cursor movement: each render prints only the lines that are new since the last
 * one, so a log reads one line per change.
 */
export class LiveView {
  private block: readonly string[] = [];
  /** How many terminal rows the block takes now. */
  private drawnRows = 0;

  constructor(private readonly output: CliOutput) {}

  /** Replaces the block. */
  render(lines: readonly string[]): void {
    const terminal = this.output.terminal;
    if (!terminal) {
      const before = new Set(this.block);
      for (const line of lines) if (!before.has(line)) this.output.out(line);
      this.block = [...lines];
      return;
    }
    this.block = lines.map((line) => fit(line, terminal.columns));
    this.redraw();
  }

  /** Prints a line above the block (it scrolls away with the others); the block stays below it. */
  log(line: string): void {
    const terminal = this.output.terminal;
    if (!terminal) {
      this.output.out(line);
      return;
    }
    this.erase();
    terminal.write(`${line}\n`);
    this.draw();
  }

  private redraw(): void {
    this.erase();
    this.draw();
  }

  private erase(): void {
    if (this.drawnRows > 0) this.output.terminal?.write(`${ESC}${this.drawnRows}F${ESC}J`);
    this.drawnRows = 0;
  }

  private draw(): void {
    if (this.block.length === 0) return;
    this.output.terminal?.write(`${this.block.join('\n')}\n`);
    this.drawnRows = this.block.length;
  }
}

/** Cuts a line to the terminal's width, so that every line of the block takes one row (ANSI kept). */
function fit(line: string, columns: number): string {
  if (visibleLength(line) <= columns) return line;
  let visible = 0;
  let cut = '';
  // eslint-disable-next-line no-control-regex
  for (const part of line.split(/(\u001b\[[0-9;]*[A-Za-z])/)) {
    if (part.startsWith(ESC)) {
      cut += part;
      continue;
    }
    const room = Math.max(0, columns - 1 - visible);
    cut += part.slice(0, room);
    visible += Math.min(part.length, room);
  }
  return `${cut}…${ESC}0m`;
}
