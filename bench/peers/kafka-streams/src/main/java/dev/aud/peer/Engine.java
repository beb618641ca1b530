package dev.aud.peer;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.TreeSet;

/**
 * The rules over one input partition, with the event clock: a port of
 * engine/partition-task.ts (with engine/aggregate.ts and engine/sequence.ts)
 * for the slots and audiences of bench.aud.
 *
 * For each event: fire every timer due at or before its time, in (due,
 * customer) order, each with `now` at its due instant; move `now` to the
 * event's time if later (the clock never moves back); apply the event to the
 * slots it feeds; re-evaluate the audiences whose slots changed (all of them
 * on a customer's first event) and those that use `in` an audience that
 * changed, in order; emit enter/leave; reschedule the customer's timer to the
 * earliest wake of its audiences.
 *
 * Persistence goes through Store (Kafka Streams key-value stores); the timer
 * index is mirrored in memory, ordered, and rebuilt from the store when a
 * task starts.
 */
final class Engine {
  interface Store {
    /** The customer's state, or a new empty one. */
    CustomerState load(String customer);
    void save(String customer, CustomerState cs);
    void putTimer(long due, String customer);
    void deleteTimer(long due, String customer);
    void saveClock(long now);
  }

  interface Output {
    void emit(String customer, String json);
  }

  private static final class Timer implements Comparable<Timer> {
    final long due;
    final String customer;
    Timer(long due, String customer) { this.due = due; this.customer = customer; }
    @Override public int compareTo(Timer o) {
      int c = Long.compare(due, o.due);
      return c != 0 ? c : customer.compareTo(o.customer); // UTF-16 order, as JavaScript's `<`
    }
  }

  private static final DateTimeFormatter ISO = DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final Store store;
  private final TreeSet<Timer> timers = new TreeSet<>();
  /** The partition's clock; NONE (−∞) before the first event. */
  private long now = CustomerState.NONE;

  // Per-evaluation scratch.
  private final boolean[] dirty = new boolean[Rules.AUDIENCES.length];
  private final boolean[] changedAudience = new boolean[Rules.AUDIENCES.length];
  private final CustomerScope scope = new CustomerScope();

  long applied, outputs, timersFired;

  Engine(Store store) { this.store = store; }

  void restoreClock(long now) { this.now = now; }

  void restoreTimer(long due, String customer) { timers.add(new Timer(due, customer)); }

  long clock() { return now; }

  int pendingTimers() { return timers.size(); }

  void onEvent(Event e, Output out) {
    advanceClock(e.time, out);
    applyEvent(e, out);
    applied++;
  }

  /** Move the clock to `t` (if later), firing every timer due by then, in order. */
  void advanceClock(long t, Output out) {
    long before = now;
    while (!timers.isEmpty()) {
      Timer next = timers.first();
      if (next.due > t) break;
      timers.pollFirst();
      CustomerState cs = store.load(next.customer);
      if (cs.t != next.due) { // not the customer's timer any more (cannot happen: entries move eagerly)
        store.deleteTimer(next.due, next.customer);
        continue;
      }
      if (next.due > now) now = next.due;
      fireTimer(next.customer, cs, out);
      store.save(next.customer, cs);
      timersFired++;
    }
    if (t > now) now = t;
    if (now != before) store.saveClock(now);
  }

  private void fireTimer(String customer, CustomerState cs, Output out) {
    for (Rules.Slot s : Rules.SLOTS) {
      if (s instanceof Rules.Agg && ((Rules.Agg) s).windowed() && cs.slots[s.index] != null) {
        expire((Rules.Agg) s, cs);
      }
    }
    for (int i = 0; i < dirty.length; i++) dirty[i] = cs.wake[i] != CustomerState.NO_WAKE && cs.wake[i] <= now;
    evaluateCustomer(customer, cs, "timer", out);
  }

  private void applyEvent(Event e, Output out) {
    CustomerState cs = store.load(e.customer);
    // A customer is known from their first declared event, and every audience
    // holds a value for them from then on.
    boolean first = cs.n == 0;
    cs.n++;
    boolean any = first;
    for (int i = 0; i < dirty.length; i++) dirty[i] = first;
    for (int index : Rules.FEEDS[e.type]) {
      Rules.Slot slot = Rules.SLOTS[index];
      boolean changed;
      if (slot instanceof Rules.Agg) {
        Rules.Agg agg = (Rules.Agg) slot;
        if (agg.where != null && !agg.where.test(e)) continue;
        double v = 0;
        if (agg.sum) {
          if (e.amount == null) continue; // a null field contributes nothing
          v = e.amount;
        }
        changed = addToAggregate(agg, cs, v, e.time);
      } else {
        changed = addToSequence((Rules.Seq) slot, cs, e.type, e.time);
      }
      if (!changed) continue;
      for (int a : Rules.AUDIENCES_BY_SLOT[index]) { dirty[a] = true; any = true; }
    }
    if (any) evaluateCustomer(e.customer, cs, "event", out);
    store.save(e.customer, cs);
  }

  // ---- aggregates (engine/aggregate.ts) --------------------------------------------

  /** Whether the slot's state changed (a new object in aggregate.ts). */
  private boolean addToAggregate(Rules.Agg slot, CustomerState cs, double v, long t) {
    Object st = cs.slots[slot.index];
    if (!slot.windowed()) {
      CustomerState.AllTime at = (CustomerState.AllTime) st;
      if (at == null) {
        cs.slots[slot.index] = new CustomerState.AllTime(slot.sum ? 0.0 + v : 1);
        return true;
      }
      double after = slot.sum ? at.value + v : at.value + 1;
      boolean changed = after != at.value;
      at.value = after;
      return changed;
    }
    long start = Math.floorDiv(t, slot.bucketMs) * slot.bucketMs;
    boolean added = false;
    if (start > now - slot.windowMs) {
      CustomerState.Buckets b = (CustomerState.Buckets) st;
      if (b == null) { b = new CustomerState.Buckets(); cs.slots[slot.index] = b; }
      b.add(start, slot.sum, v);
      added = true;
    }
    boolean expired = expire(slot, cs);
    return added || expired;
  }

  /** Drop the buckets that left the window; whether any did. */
  private boolean expire(Rules.Agg slot, CustomerState cs) {
    CustomerState.Buckets b = (CustomerState.Buckets) cs.slots[slot.index];
    if (b == null) return false;
    long cut = now - slot.windowMs;
    int i = 0;
    while (i < b.size && b.start[i] <= cut) i++;
    if (i == 0) return false;
    if (i == b.size) cs.slots[slot.index] = null;
    else b.dropFirst(i);
    return true;
  }

  private static double aggregateValue(Rules.Agg slot, Object st, long now) {
    if (!slot.windowed()) return st == null ? 0 : ((CustomerState.AllTime) st).value;
    CustomerState.Buckets b = (CustomerState.Buckets) st;
    if (b == null) return 0;
    long cut = now - slot.windowMs;
    boolean has = false;
    double acc = 0;
    for (int i = 0; i < b.size; i++) {
      if (b.start[i] <= cut) continue;
      acc = has ? acc + b.value[i] : b.value[i];
      has = true;
    }
    return has ? acc : 0;
  }

  /** The next instant after `now` at which the value changes by time alone, or NO_WAKE. */
  private static long aggregateNextChange(Rules.Agg slot, Object st, long now) {
    if (!slot.windowed() || st == null) return CustomerState.NO_WAKE;
    CustomerState.Buckets b = (CustomerState.Buckets) st;
    for (int i = 0; i < b.size; i++) {
      long leaves = b.start[i] + slot.windowMs;
      if (leaves > now) return leaves;
    }
    return CustomerState.NO_WAKE;
  }

  // ---- sequences (engine/sequence.ts, two steps) ----------------------------------

  private static boolean addToSequence(Rules.Seq slot, CustomerState cs, int type, long t) {
    CustomerState.SeqState q = (CustomerState.SeqState) cs.slots[slot.index];
    boolean hasP = q != null && q.hasPartial;
    long ps = q != null ? q.partialStart : 0, pl = q != null ? q.partialLast : 0;
    long m = q != null ? q.match : CustomerState.NONE;
    boolean changed = false;
    int n = slot.steps.length;
    for (int k = n - 1; k >= 0; k--) {
      if (slot.steps[k] != type) continue;
      long cStart, cLast;
      if (k == 0) {
        cStart = t;
        cLast = t;
      } else if (hasP && t >= pl && t - ps <= slot.withinMs) {
        cStart = ps;
        cLast = t;
      } else {
        continue;
      }
      if (k == n - 1) {
        if (m == CustomerState.NONE || t > m) { m = t; changed = true; }
        continue;
      }
      if (!hasP || cStart > ps || (cStart == ps && cLast < pl)) {
        hasP = true;
        ps = cStart;
        pl = cLast;
        changed = true;
      }
    }
    if (!changed) return false;
    if (q == null) { q = new CustomerState.SeqState(); cs.slots[slot.index] = q; }
    q.hasPartial = hasP;
    q.partialStart = ps;
    q.partialLast = pl;
    q.match = m;
    return true;
  }

  // ---- evaluation ------------------------------------------------------------------

  /** Re-evaluate the dirty audiences (and those using `in` one that changed); emit; reschedule. */
  private void evaluateCustomer(String customer, CustomerState cs, String reason, Output out) {
    scope.begin(now, cs);
    for (int i = 0; i < Rules.AUDIENCES.length; i++) {
      changedAudience[i] = false;
      Rules.Audience a = Rules.AUDIENCES[i];
      boolean need = dirty[i];
      for (int u : a.uses) if (changedAudience[u]) need = true;
      if (!need) continue;
      scope.wake = CustomerState.NO_WAKE;
      boolean inside = a.expr.eval(scope);
      cs.wake[i] = scope.wake;
      if (inside == cs.inside[i]) continue;
      int version = cs.version[i] + 1;
      cs.inside[i] = inside;
      cs.version[i] = version;
      changedAudience[i] = true;
      out.emit(customer, outputJson(inside, a.name, customer, now, version, reason));
      outputs++;
    }
    long next = CustomerState.NO_WAKE;
    for (long w : cs.wake) if (w < next) next = w;
    long timer = next == CustomerState.NO_WAKE ? CustomerState.NONE : next;
    if (timer != cs.t) {
      if (cs.t != CustomerState.NONE) {
        timers.remove(new Timer(cs.t, customer));
        store.deleteTimer(cs.t, customer);
      }
      cs.t = timer;
      if (timer != CustomerState.NONE) {
        timers.add(new Timer(timer, customer));
        store.putTimer(timer, customer);
      }
    }
  }

  /** One customer's state at one instant; aggregate values memoized with the instant they next change. */
  private static final class CustomerScope implements Rules.Scope {
    long now;
    long wake;
    CustomerState cs;
    private final boolean[] memo = new boolean[Rules.SLOTS.length];
    private final double[] memoValue = new double[Rules.SLOTS.length];
    private final long[] memoWake = new long[Rules.SLOTS.length];

    void begin(long now, CustomerState cs) {
      this.now = now;
      this.cs = cs;
      java.util.Arrays.fill(memo, false);
    }

    @Override public long now() { return now; }

    @Override public void wakeAt(long t) {
      if (t > now && t < wake) wake = t;
    }

    @Override public double aggregate(int slot) {
      if (!memo[slot]) {
        Rules.Agg agg = (Rules.Agg) Rules.SLOTS[slot];
        Object st = cs.slots[slot];
        memoValue[slot] = aggregateValue(agg, st, now);
        memoWake[slot] = aggregateNextChange(agg, st, now);
        memo[slot] = true;
      }
      wakeAt(memoWake[slot]);
      return memoValue[slot];
    }

    @Override public long matchTime(int slot) {
      CustomerState.SeqState q = (CustomerState.SeqState) cs.slots[slot];
      return q == null ? CustomerState.NONE : q.match;
    }

    @Override public boolean audience(int index) { return cs.inside[index]; }
  }

  // ---- output --------------------------------------------------------------------

  /** engine/output-event.ts: {"type","audience","customer","at","version","reason"}, in that order. */
  static String outputJson(boolean enter, String audience, String customer, long at, int version, String reason) {
    StringBuilder sb = new StringBuilder(160);
    sb.append("{\"type\":\"").append(enter ? "enter" : "leave")
        .append("\",\"audience\":\"").append(audience)
        .append("\",\"customer\":");
    appendJsonString(sb, customer);
    sb.append(",\"at\":\"").append(ISO.format(Instant.ofEpochMilli(at)))
        .append("\",\"version\":").append(version)
        .append(",\"reason\":\"").append(reason).append("\"}");
    return sb.toString();
  }

  /** JSON.stringify of a string. */
  static void appendJsonString(StringBuilder sb, String s) {
    sb.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': sb.append("\\\""); break;
        case '\\': sb.append("\\\\"); break;
        case '\b': sb.append("\\b"); break;
        case '\f': sb.append("\\f"); break;
        case '\n': sb.append("\\n"); break;
        case '\r': sb.append("\\r"); break;
        case '\t': sb.append("\\t"); break;
        default:
          if (c < 0x20 || (Character.isSurrogate(c) && !pairedSurrogate(s, i))) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
      }
    }
    sb.append('"');
  }

  private static boolean pairedSurrogate(String s, int i) {
    char c = s.charAt(i);
    if (Character.isHighSurrogate(c)) return i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1));
    return i > 0 && Character.isHighSurrogate(s.charAt(i - 1));
  }
}
