/**
 * "Did you mean": the closest known name to a misspelt one.
 */

/**
 * Edit distance with transpositions (optimal string alignment): inserting,
 * deleting, replacing or swapping two neighbouring characters costs one,
 * so "vpi" is one typo away from "vip".
 */
export function editDistance(a: string, b: string): number {
  return editDistanceWithin(a, b, Infinity);
}

/** Rows for editDistanceWithin, reused from call to call: a suggestion compares one name with thousands. */
const TABLE_ROWS: [number[], number[], number[]] = [[], [], []];

/**
 * `editDistance(a, b)` when it is at most `max`; otherwise some number above
 * `max`, found without finishing the table once every entry of two
 * consecutive rows is above `max` (no later entry can come back under it:
 * each derives from the row above or, by a swap, the one above that, plus
 * zero or one).
 */
function editDistanceWithin(a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1;
  // Three rows of the table: i - 2, i - 1 and i. Entries past b.length, left by a longer word, are never read.
  let [before, above, row] = TABLE_ROWS;
  for (let j = 0; j <= b.length; j++) above[j] = j;
  let aboveMin = 0;
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(above[j]! + 1, row[j - 1]! + 1, above[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, before[j - 2]! + 1);
      row[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin > max && aboveMin > max) return max + 1;
    [before, above, row] = [above, row, before];
    aboveMin = rowMin;
  }
  return above[b.length]!;
}

/**
 * The candidate nearest to `name`, if it is near enough to be a likely typo:
 * within max(1, a third of the name's length) edits. Ties go to the first.
 */
export function closest(name: string, candidates: Iterable<string>): string | undefined {
  const limit = Math.max(1, Math.floor(name.length / 3));
  const lowered = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    if (c === name) continue;
    // Only a candidate nearer than the best so far, and within the limit, changes the answer:
    // the distance of any other need not be known exactly (with thousands of names, most are far).
    const wanted = Math.min(limit, bestDistance - 1);
    if (wanted < 0) break;
    const d = editDistanceWithin(lowered, c.toLowerCase(), wanted);
    if (d <= wanted) { best = c; bestDistance = d; }
  }
  return best;
}

export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  const c = closest(name, candidates);
  return c === undefined ? undefined : `did you mean "${c}"?`;
}
