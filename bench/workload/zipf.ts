/**
 * Zipf-distributed draws over ranks 1..n: rank k is drawn with probability
 * proportional to 1/k^s. A cumulative table and a binary search: 8 bytes per
 * rank (8 MB for a million customers), about 20 comparisons a draw.
 */
export class ZipfSampler {
  private readonly cumulative: Float64Array;

  constructor(readonly n: number, readonly exponent: number) {
    this.cumulative = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / Math.pow(k, exponent);
      this.cumulative[k - 1] = sum;
    }
    for (let i = 0; i < n; i++) this.cumulative[i]! /= sum;
  }

  /** A rank in 1..n from a uniform draw u in [0, 1). */
  rank(u: number): number {
    let lo = 0;
    let hi = this.n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.cumulative[mid]! > u) hi = mid; else lo = mid + 1;
    }
    return lo + 1;
  }

  /** The share of all draws that go to rank k. */
  share(k: number): number {
    return this.cumulative[k - 1]! - (k > 1 ? this.cumulative[k - 2]! : 0);
  }
}

/**
 * A fixed shuffle of 0..n-1 (multiplication by a number coprime with n), so
 * that a customer's id says nothing of how active they are, and the busiest
 * customers spread over the partitions.
 */
export function rankShuffle(n: number): (rank: number) => number {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  let step = 2_654_435_761 % n;
  while (n > 1 && (step === 0 || gcd(step, n) !== 1)) step = (step + 1) % n;
  return (rank) => ((rank - 1) * step) % n;
}
