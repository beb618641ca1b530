/**
 * The in-memory index of customer timers of one partition: a binary min-heap
 * ordered by (due, customer), so that timers due at one instant fire in a
 * stable order.
 *
 * Rescheduling does not remove the old entry: an entry is valid only while
 * the customer's state still names that due time, and the engine skips the
 * others when they surface (lazy deletion). The persistent copy lives in the
 * store under `t/` and rebuilds this heap when a partition is opened.
 */
export interface TimerEntry { due: number; customer: string }

function before(a: TimerEntry, b: TimerEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.customer < b.customer);
}

export class TimerQueue {
  private readonly heap: TimerEntry[] = [];

  get size(): number { return this.heap.length; }

  push(due: number, customer: string): void {
    const h = this.heap;
    h.push({ due, customer });
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(h[i]!, h[parent]!)) break;
      [h[i], h[parent]] = [h[parent]!, h[i]!];
      i = parent;
    }
  }

  peek(): TimerEntry | undefined { return this.heap[0]; }

  pop(): TimerEntry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l]!, h[m]!)) m = l;
        if (r < h.length && before(h[r]!, h[m]!)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m]!, h[i]!];
        i = m;
      }
    }
    return top;
  }

  /** Customers with an entry due at or before `t`, without removing them: O(entries found). */
  customersDueBy(t: number): Set<string> {
    const out = new Set<string>();
    const stack = [0];
    while (stack.length > 0) {
      const i = stack.pop()!;
      const e = this.heap[i];
      if (!e || e.due > t) continue;
      out.add(e.customer);
      stack.push(2 * i + 1, 2 * i + 2);
    }
    return out;
  }
}
