/**
 * At most `limit` partitions' handlers at once (the source's `concurrency`),
 * the others waiting their turn in the order they asked. A handler that is
 * CPU-bound on this thread gains nothing from running beside many others,
 * and a caller may want to bound what is in flight downstream.
 */
export class ConcurrencyGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  /** Wait until fewer than `limit` handlers run. */
  async enter(): Promise<void> {
    if (this.running < this.limit) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }

  /** The slot goes to the next waiting handler, if any. */
  leave(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.running--;
  }
}
