/** A one-line progress bar on a terminal (stderr), redrawn at most 10 times a second. */

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(sec).padStart(2, '0')}` : `${m}:${String(sec).padStart(2, '0')}`;
}

export class ProgressBar {
  #last = 0;
  #active = false;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  update(fraction: number, text: string, force = false): void {
    const now = Date.now();
    if (!force && now - this.#last < 100) return;
    this.#last = now;
    const width = 24;
    const f = Math.min(1, Math.max(0, fraction));
    const filled = Math.round(f * width);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(f * 100).toFixed(0).padStart(3)}% ${text}`;
    const cols = this.stream.columns ?? 120;
    this.stream.write(`\r${line.slice(0, cols - 1).padEnd(Math.min(cols - 1, line.length))}\x1b[K`);
    this.#active = true;
  }

  done(): void {
    if (this.#active) this.stream.write('\n');
    this.#active = false;
  }
}
