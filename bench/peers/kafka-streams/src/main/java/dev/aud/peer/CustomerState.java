package dev.aud.peer;

import java.util.Arrays;

/**
 * Everything kept about one customer (engine/customer-state.ts), in a compact
 * binary form: one read and one write per customer per event.
 *
 *   n        events applied
 *   t        the customer's timer (NONE when none is due)
 *   per audience: membership (inside, version of the last change) and wake
 *            (the next instant its value may change by time alone; NO_WAKE: never)
 *   per slot: a windowed aggregate's buckets (start, partial) in time order,
 *            an all-time aggregate's value, or a sequence's partial match and
 *            latest match time; null when the slot holds nothing.
 */
final class CustomerState {
  static final long NONE = Long.MIN_VALUE;
  static final long NO_WAKE = Long.MAX_VALUE;

  long n;
  long t = NONE;
  final boolean[] inside = new boolean[Rules.AUDIENCES.length];
  final int[] version = new int[Rules.AUDIENCES.length];
  final long[] wake = new long[Rules.AUDIENCES.length];
  /** Per slot: Buckets, AllTime or SeqState; null when empty. */
  final Object[] slots = new Object[Rules.SLOTS.length];

  CustomerState() { Arrays.fill(wake, NO_WAKE); }

  /** A windowed aggregate: partials per bucket, oldest first. */
  static final class Buckets {
    long[] start = new long[4];
    double[] value = new double[4];
    int size;

    /** Add to the bucket starting at `s`; count adds 1, sum adds v (a new partial starts at 0 + v). */
    void add(long s, boolean sum, double v) {
      int i = size - 1;
      while (i >= 0 && start[i] > s) i--;
      if (i >= 0 && start[i] == s) {
        value[i] = sum ? value[i] + v : value[i] + 1;
        return;
      }
      insert(i + 1, s, sum ? 0.0 + v : 1);
    }

    void insert(int at, long s, double v) {
      if (size == start.length) {
        start = Arrays.copyOf(start, size * 2);
        value = Arrays.copyOf(value, size * 2);
      }
      System.arraycopy(start, at, start, at + 1, size - at);
      System.arraycopy(value, at, value, at + 1, size - at);
      start[at] = s;
      value[at] = v;
      size++;
    }

    /** Drop the first k buckets. */
    void dropFirst(int k) {
      System.arraycopy(start, k, start, 0, size - k);
      System.arraycopy(value, k, value, 0, size - k);
      size -= k;
    }
  }

  /** An all-time aggregate: one value. */
  static final class AllTime {
    double value;
    AllTime(double value) { this.value = value; }
  }

  /** `A then B within W`: the best partial match of step 0 as [start, last], and the latest match time. */
  static final class SeqState {
    boolean hasPartial;
    long partialStart, partialLast;
    long match = NONE;
  }

  // ---- codec ------------------------------------------------------------------
  //
  // format byte, then varints: n; t+1 as zigzag (0: none); per audience a flag byte
  // (1 inside, 2 has a wake), the version, the wake as zigzag; per slot a kind byte
  // (0 empty, 1 buckets, 2 all-time, 3 sequence) and its data. Bucket starts are
  // written in bucket units, the first as zigzag and the rest as gaps; count
  // partials as varints, sum partials as 8-byte doubles.

  private static final byte FORMAT = 2;

  /** Encode with a reusable writer (one per task). */
  byte[] encode(Writer w) {
    w.pos = 0;
    w.b(FORMAT);
    w.varlong(n);
    w.varlong(t == NONE ? 0 : zigzag(t) + 1);
    for (int a = 0; a < inside.length; a++) {
      boolean hasWake = wake[a] != NO_WAKE;
      w.b((inside[a] ? 1 : 0) | (hasWake ? 2 : 0));
      w.varlong(version[a]);
      if (hasWake) w.varlong(zigzag(wake[a]));
    }
    for (int s = 0; s < slots.length; s++) {
      Object o = slots[s];
      if (o == null) {
        w.b(0);
      } else if (o instanceof Buckets) {
        Rules.Agg agg = (Rules.Agg) Rules.SLOTS[s];
        Buckets k = (Buckets) o;
        w.b(1);
        w.varlong(k.size);
        long prev = 0;
        for (int i = 0; i < k.size; i++) {
          long unit = k.start[i] / agg.bucketMs; // starts are multiples of the width
          w.varlong(i == 0 ? zigzag(unit) : unit - prev);
          prev = unit;
          if (agg.sum) w.dbl(k.value[i]); else w.varlong((long) k.value[i]);
        }
      } else if (o instanceof AllTime) {
        w.b(2);
        w.dbl(((AllTime) o).value);
      } else {
        SeqState q = (SeqState) o;
        w.b(3);
        w.b((q.hasPartial ? 1 : 0) | (q.match != NONE ? 2 : 0));
        if (q.hasPartial) { w.varlong(zigzag(q.partialStart)); w.varlong(q.partialLast - q.partialStart); }
        if (q.match != NONE) w.varlong(zigzag(q.match));
      }
    }
    return Arrays.copyOf(w.buf, w.pos);
  }

  static CustomerState decode(byte[] bytes) {
    Reader r = new Reader(bytes);
    if (r.b() != FORMAT) throw new IllegalStateException("unknown customer state format");
    CustomerState cs = new CustomerState();
    cs.n = r.varlong();
    long t = r.varlong();
    cs.t = t == 0 ? NONE : unzigzag(t - 1);
    for (int a = 0; a < cs.inside.length; a++) {
      int flags = r.b();
      cs.inside[a] = (flags & 1) != 0;
      cs.version[a] = (int) r.varlong();
      if ((flags & 2) != 0) cs.wake[a] = unzigzag(r.varlong());
    }
    for (int s = 0; s < cs.slots.length; s++) {
      int kind = r.b();
      switch (kind) {
        case 0: break;
        case 1: {
          Rules.Agg agg = (Rules.Agg) Rules.SLOTS[s];
          Buckets k = new Buckets();
          int size = (int) r.varlong();
          k.start = new long[size + 4];
          k.value = new double[k.start.length];
          long unit = 0;
          for (int i = 0; i < size; i++) {
            unit = i == 0 ? unzigzag(r.varlong()) : unit + r.varlong();
            k.start[i] = unit * agg.bucketMs;
            k.value[i] = agg.sum ? r.dbl() : r.varlong();
          }
          k.size = size;
          cs.slots[s] = k;
          break;
        }
        case 2: cs.slots[s] = new AllTime(r.dbl()); break;
        case 3: {
          SeqState q = new SeqState();
          int flags = r.b();
          q.hasPartial = (flags & 1) != 0;
          if (q.hasPartial) { q.partialStart = unzigzag(r.varlong()); q.partialLast = q.partialStart + r.varlong(); }
          if ((flags & 2) != 0) q.match = unzigzag(r.varlong());
          cs.slots[s] = q;
          break;
        }
        default: throw new IllegalStateException("bad slot kind " + kind);
      }
    }
    return cs;
  }

  private static long zigzag(long v) { return (v << 1) ^ (v >> 63); }

  private static long unzigzag(long v) { return (v >>> 1) ^ -(v & 1); }

  /** A growable output buffer, reused across encodes. */
  static final class Writer {
    byte[] buf = new byte[1024];
    int pos;

    private void ensure(int n) {
      if (pos + n > buf.length) buf = Arrays.copyOf(buf, Math.max(buf.length * 2, pos + n));
    }

    void b(int v) { ensure(1); buf[pos++] = (byte) v; }

    void varlong(long v) {
      ensure(10);
      while ((v & ~0x7FL) != 0) { buf[pos++] = (byte) ((v & 0x7F) | 0x80); v >>>= 7; }
      buf[pos++] = (byte) v;
    }

    void dbl(double d) {
      ensure(8);
      long v = Double.doubleToRawLongBits(d);
      for (int i = 7; i >= 0; i--) buf[pos++] = (byte) (v >>> (i * 8));
    }
  }

  private static final class Reader {
    final byte[] buf;
    int pos;
    Reader(byte[] buf) { this.buf = buf; }

    int b() { return buf[pos++] & 0xFF; }

    long varlong() {
      long v = 0;
      int shift = 0;
      while (true) {
        byte x = buf[pos++];
        v |= (long) (x & 0x7F) << shift;
        if (x >= 0) return v;
        shift += 7;
      }
    }

    double dbl() {
      long v = 0;
      for (int i = 0; i < 8; i++) v = (v << 8) | (buf[pos++] & 0xFF);
      return Double.longBitsToDouble(v);
    }
  }
}
