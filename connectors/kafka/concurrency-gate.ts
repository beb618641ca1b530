/**
 * At most `limit` partitions' batches handled at once (the source's
 * `concurrency`), the others waiting their turn in the order they asked: a
 * handler that sends each batch somewhere bounds what it has in flight there
 * (the webhook connector posts at most that many batches at a time).
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
