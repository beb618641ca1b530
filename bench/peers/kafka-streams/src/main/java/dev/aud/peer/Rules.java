package dev.aud.peer;

/**
 * bench/rules/bench.aud, written out by hand: the shared per-customer states
 * ("slots", in the order `aud explain bench/rules/bench.aud` prints them),
 * which event types feed which slot, and the ten audiences as expression
 * trees, in evaluation order (file order; `in vip` puts vip before
 * vip_at_risk, which the file order already does).
 *
 * The expression trees evaluate exactly as engine/evaluate.ts does: `and`
 * and `or` short-circuit, and every part that is evaluated reports the next
 * instant it may change with time alone (Scope.wakeAt), which becomes the
 * audience's wake. No value here is ever null (counts and sums of nothing are
 * 0), so plain booleans suffice.
 */
final class Rules {
  private Rules() {}

  // Event types: the `event` declarations of bench.aud.
  static final int PURCHASE = 0, PAGE_VIEW = 1, ADD_TO_CART = 2, LOGIN = 3, PROFILE_UPDATE = 4;
  static final String[] EVENT_NAMES = {"purchase", "page_view", "add_to_cart", "login", "profile_update"};

  static final long MINUTE = 60_000L, HOUR = 3_600_000L, DAY = 86_400_000L;

  /** dsl/plan.ts bucketWidthFor: one minute up to two-day windows, one hour beyond. */
  static long bucketWidthFor(long windowMs) {
    return windowMs <= 2 * DAY ? MINUTE : HOUR;
  }

  // ---- slots ----------------------------------------------------------------

  interface Filter { boolean test(Event e); }

  abstract static class Slot {
    final int index;
    final String text;
    Slot(int index, String text) { this.index = index; this.text = text; }
  }

  /** count(E [where P]) or sum(E.amount [where P]), all-time (window 0) or over a window. */
  static final class Agg extends Slot {
    final boolean sum;
    final Filter where;
    final long windowMs;
    final long bucketMs;
    Agg(int index, String text, boolean sum, Filter where, long windowMs) {
      super(index, text);
      this.sum = sum;
      this.where = where;
      this.windowMs = windowMs;
      this.bucketMs = windowMs > 0 ? bucketWidthFor(windowMs) : 0;
    }
    boolean windowed() { return windowMs > 0; }
  }

  /** `A then B within W`: two steps, no step filters (all bench.aud needs). */
  static final class Seq extends Slot {
    final int[] steps;
    final long withinMs;
    Seq(int index, String text, int[] steps, long withinMs) {
      super(index, text);
      this.steps = steps;
      this.withinMs = withinMs;
    }
  }

  static final Slot[] SLOTS = {
    new Agg(0, "sum(purchase.amount) over 30 days", true, null, 30 * DAY),
    new Agg(1, "count(purchase) over 1 week", false, null, 7 * DAY),
    new Agg(2, "sum(purchase.amount) over 365 days", true, null, 365 * DAY),
    new Agg(3, "count(purchase) over 90 days", false, null, 90 * DAY),
    new Agg(4, "count(page_view where brand == \"Acme\") over 30 days", false, e -> "Acme".equals(e.brand), 30 * DAY),
    new Agg(5, "count(purchase where category == \"shoes\") over 90 days", false, e -> "shoes".equals(e.category), 90 * DAY),
    new Agg(6, "count(purchase where channel == \"store\")", false, e -> "store".equals(e.channel), 0),
    new Agg(7, "count(purchase where channel == \"web\")", false, e -> "web".equals(e.channel), 0),
    new Agg(8, "count(page_view) over 1 week", false, null, 7 * DAY),
    new Seq(9, "add_to_cart then purchase within 1 hour", new int[] {ADD_TO_CART, PURCHASE}, HOUR),
    new Agg(10, "count(login) over 2 weeks", false, null, 14 * DAY),
    new Agg(11, "count(page_view) over 1 day", false, null, DAY),
    new Agg(12, "count(purchase) over 30 days", false, null, 30 * DAY),
  };

  /** Event type → the slots it feeds (plan.feeds). */
  static final int[][] FEEDS = {
    /* purchase */ {0, 1, 2, 3, 5, 6, 7, 9, 12},
    /* page_view */ {4, 8, 11},
    /* add_to_cart */ {9},
    /* login */ {10},
    /* profile_update */ {},
  };

  // ---- expressions ------------------------------------------------------------

  /** What an expression may read: one customer's state at one instant. */
  interface Scope {
    long now();
    /** An aggregate's value (memoized per pass); reports its next change through wakeAt. */
    double aggregate(int slot);
    /** The time of the latest match of a sequence, or NONE. */
    long matchTime(int slot);
    boolean audience(int index);
    void wakeAt(long t);
  }

  static final long NONE = Long.MIN_VALUE;

  interface Expr { boolean eval(Scope s); }

  enum Op { GE, EQ }

  /** `aggregate op constant`. */
  static Expr cmp(int slot, Op op, double c) {
    return s -> {
      double v = s.aggregate(slot);
      return op == Op.GE ? v >= c : v == c;
    };
  }

  static Expr and(Expr l, Expr r) { return s -> l.eval(s) && r.eval(s); }

  static Expr or(Expr l, Expr r) { return s -> l.eval(s) || r.eval(s); }

  static Expr in(int audience) { return s -> s.audience(audience); }

  /** `(sequence) over W`: a match whose last step lies in the last W. */
  static Expr matchedWithin(int slot, long windowMs) {
    return s -> {
      long m = s.matchTime(slot);
      if (m == NONE) return false;
      long until = m + windowMs;
      if (until > s.now()) { s.wakeAt(until); return true; }
      return false;
    };
  }

  static final class Audience {
    final String name;
    final Expr expr;
    /** Slots read directly. */
    final int[] slots;
    /** Audiences read through `in X`. */
    final int[] uses;
    Audience(String name, Expr expr, int[] slots, int[] uses) {
      this.name = name;
      this.expr = expr;
      this.slots = slots;
      this.uses = uses;
    }
  }

  static final int VIP = 2;

  static final Audience[] AUDIENCES = {
    new Audience("big_spender_30d", cmp(0, Op.GE, 2000), new int[] {0}, new int[0]),
    new Audience("frequent_buyer", cmp(1, Op.GE, 3), new int[] {1}, new int[0]),
    new Audience("vip", and(cmp(2, Op.GE, 10000), cmp(3, Op.GE, 3)), new int[] {2, 3}, new int[0]),
    new Audience("acme_fan", cmp(4, Op.GE, 5), new int[] {4}, new int[0]),
    new Audience("shoe_buyer", cmp(5, Op.GE, 2), new int[] {5}, new int[0]),
    new Audience("store_only", and(cmp(6, Op.GE, 1), cmp(7, Op.EQ, 0)), new int[] {6, 7}, new int[0]),
    new Audience("browser_not_buyer", and(cmp(8, Op.GE, 10), cmp(1, Op.EQ, 0)), new int[] {1, 8}, new int[0]),
    new Audience("cart_then_buy", matchedWithin(9, 30 * DAY), new int[] {9}, new int[0]),
    new Audience("engaged", or(cmp(10, Op.GE, 2), cmp(11, Op.GE, 5)), new int[] {10, 11}, new int[0]),
    new Audience("vip_at_risk", and(in(VIP), cmp(12, Op.EQ, 0)), new int[] {12}, new int[] {VIP}),
  };

  /** Slot → audiences that read it directly. */
  static final int[][] AUDIENCES_BY_SLOT = new int[SLOTS.length][];

  static {
    for (int s = 0; s < SLOTS.length; s++) {
      int n = 0;
      for (Audience a : AUDIENCES) for (int x : a.slots) if (x == s) n++;
      int[] list = new int[n];
      int k = 0;
      for (int ai = 0; ai < AUDIENCES.length; ai++) for (int x : AUDIENCES[ai].slots) if (x == s) list[k++] = ai;
      AUDIENCES_BY_SLOT[s] = list;
    }
  }
}
