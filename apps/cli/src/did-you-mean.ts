// "Did you mean ...?" for mistyped commands, flags and named values (presets, weights, choices).

/** More edits than this and a value is not a typo of a name but another word. */
const MAX_EDITS = 2;

/**
 * The candidate closest to `value`, if `value` is a likely typo of it: at most MAX_EDITS edits away,
 * and fewer edits than half the value's length (so that `x` does not "mean" `h`). Case counts for no
 * edit (`ImageNet` means `imagenet`); on a tie the earlier candidate wins.
 */
export function didYouMean(value: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestEdits = Infinity;
  for (const candidate of candidates) {
    const edits = editDistance(value.toLowerCase(), candidate.toLowerCase());
    if (edits < bestEdits) {
      best = candidate;
      bestEdits = edits;
    }
  }
  return best !== value && bestEdits <= MAX_EDITS && bestEdits * 2 < value.length ? best : undefined;
}

/**
 * Levenshtein distance where swapping two adjacent letters counts as one edit (optimal string
 * alignment), since `exprot` and `inceptoin` are one slip of the fingers each.
 */
function editDistance(a: string, b: string): number {
  // d[i][j]: edits between the first i letters of a and the first j of b.
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const substitution = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}
