//! Aligning one direction of a session as two taps saw it, line by line.
//!
//! Each side's lines (commands from the client, replies from the server)
//! are taken in stream order up to where that side's TLS begins. Lines are
//! equal when their whole bytes are (length and hash). The longest common
//! subsequence gives the lines both taps saw; the runs in between (hunks)
//! hold what differs. Inside a hunk, lines of the two taps are matched by
//! likeness, in order (the best total, each line at most once): a matched
//! pair is one line changed on the path, a line left alone was only at one
//! tap. A hunk that touches lost bytes (a gap at either tap) is not
//! compared: it is reported as such.

use super::collect::SeenSession;
use crate::flow::Side;
use crate::proto::tap::TapKind;

/// One step of an alignment; indices point into each session's `lines`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// The same line at both taps.
    Equal(usize, usize),
    /// One line, different at the two taps.
    Changed(usize, usize),
    /// A line only the first (inside) session has.
    OnlyA(usize),
    /// A line only the second (outside) session has.
    OnlyB(usize),
    /// Lines around lost bytes, not compared: (inside lines, outside lines).
    Lost(Vec<usize>, Vec<usize>),
}

/// Largest hunk whose lines are matched by likeness (beyond: all alone).
const MAX_HUNK: usize = 64;
/// Least likeness for two lines of a hunk to be one changed line.
const MIN_LIKENESS: f64 = 0.5;

/// The lines of `side` in `s`, up to that side's TLS.
pub(crate) fn side_lines(s: &SeenSession, side: Side) -> Vec<usize> {
    s.lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.side() == side)
        .take_while(|(_, l)| l.item.kind != TapKind::Tls)
        .map(|(i, _)| i)
        .collect()
}

/// What makes two lines equal (a TLS marker never is; the lines of a
/// direction end there anyway).
fn key(s: &SeenSession, i: usize) -> Option<(u8, u64, usize)> {
    let l = s.lines.get(i)?;
    match l.item.kind {
        TapKind::Line | TapKind::AfterGoAhead => Some((0, l.item.hash, l.item.len)),
        TapKind::Literal { total } => Some((1, total, 0)),
        // The same bytes lost at both taps (one capture twice, or a loss
        // before both): nothing to compare, and no difference.
        TapKind::Gap { len } => Some((2, len, usize::try_from(l.item.offset).unwrap_or(0))),
        TapKind::Tls => None,
    }
}

fn is_gap(s: &SeenSession, i: usize) -> bool {
    s.lines
        .get(i)
        .is_some_and(|l| matches!(l.item.kind, TapKind::Gap { .. }))
}

/// Aligns `side`'s lines of `a` (inside) and `b` (outside).
pub(crate) fn align(a: &SeenSession, b: &SeenSession, side: Side) -> Vec<Op> {
    let la = side_lines(a, side);
    let lb = side_lines(b, side);
    let eq = |x: usize, y: usize| {
        let (Some(&ia), Some(&ib)) = (la.get(x), lb.get(y)) else {
            return false;
        };
        matches!((key(a, ia), key(b, ib)), (Some(p), Some(q)) if p == q)
    };
    // Common prefix and suffix first: most lines agree.
    let mut pre = 0;
    while pre < la.len() && pre < lb.len() && eq(pre, pre) {
        pre += 1;
    }
    let mut suf = 0;
    while suf < la.len() - pre && suf < lb.len() - pre && eq(la.len() - 1 - suf, lb.len() - 1 - suf)
    {
        suf += 1;
    }
    let (n, m) = (la.len() - pre - suf, lb.len() - pre - suf);
    // LCS table of the middle, (n+1) x (m+1).
    let w = m + 1;
    let mut table = vec![0u32; (n + 1) * w];
    for x in (0..n).rev() {
        for y in (0..m).rev() {
            let v = if eq(pre + x, pre + y) {
                table.get((x + 1) * w + y + 1).copied().unwrap_or(0) + 1
            } else {
                let down = table.get((x + 1) * w + y).copied().unwrap_or(0);
                let right = table.get(x * w + y + 1).copied().unwrap_or(0);
                down.max(right)
            };
            if let Some(cell) = table.get_mut(x * w + y) {
                *cell = v;
            }
        }
    }
    let at = |x: usize| la.get(x).copied().unwrap_or(0);
    let bt = |y: usize| lb.get(y).copied().unwrap_or(0);
    let mut ops = Vec::new();
    for k in 0..pre {
        ops.push(Op::Equal(at(k), bt(k)));
    }
    let (mut x, mut y) = (0, 0);
    let mut hunk: (Vec<usize>, Vec<usize>) = (Vec::new(), Vec::new());
    while x < n || y < m {
        if x < n && y < m && eq(pre + x, pre + y) {
            flush(a, b, &mut hunk, &mut ops);
            ops.push(Op::Equal(at(pre + x), bt(pre + y)));
            x += 1;
            y += 1;
            continue;
        }
        let down = table.get((x + 1) * w + y).copied().unwrap_or(0);
        let right = table.get(x * w + y + 1).copied().unwrap_or(0);
        if y >= m || (x < n && down >= right) {
            hunk.0.push(at(pre + x));
            x += 1;
        } else {
            hunk.1.push(bt(pre + y));
            y += 1;
        }
    }
    flush(a, b, &mut hunk, &mut ops);
    for k in 0..suf {
        ops.push(Op::Equal(at(la.len() - suf + k), bt(lb.len() - suf + k)));
    }
    ops
}

/// Turns a hunk into changed and lone lines (or a lost stretch).
fn flush(a: &SeenSession, b: &SeenSession, hunk: &mut (Vec<usize>, Vec<usize>), ops: &mut Vec<Op>) {
    let (xs, ys) = (std::mem::take(&mut hunk.0), std::mem::take(&mut hunk.1));
    if xs.is_empty() && ys.is_empty() {
        return;
    }
    if xs.iter().any(|&i| is_gap(a, i)) || ys.iter().any(|&i| is_gap(b, i)) {
        ops.push(Op::Lost(xs, ys));
        return;
    }
    let matches = match_hunk(a, b, &xs, &ys);
    let (mut x, mut y) = (0, 0);
    for (mx, my) in matches {
        while x < mx {
            ops.push(Op::OnlyA(xs.get(x).copied().unwrap_or(0)));
            x += 1;
        }
        while y < my {
            ops.push(Op::OnlyB(ys.get(y).copied().unwrap_or(0)));
            y += 1;
        }
        ops.push(Op::Changed(
            xs.get(mx).copied().unwrap_or(0),
            ys.get(my).copied().unwrap_or(0),
        ));
        x = mx + 1;
        y = my + 1;
    }
    for &i in xs.get(x..).unwrap_or_default() {
        ops.push(Op::OnlyA(i));
    }
    for &i in ys.get(y..).unwrap_or_default() {
        ops.push(Op::OnlyB(i));
    }
}

/// The ordered matching of a hunk's lines with the best total likeness
/// (positions within the hunk), among related lines (see [`related`]).
fn match_hunk(a: &SeenSession, b: &SeenSession, xs: &[usize], ys: &[usize]) -> Vec<(usize, usize)> {
    let bytes = |s: &SeenSession, i: usize| s.lines.get(i).map(|l| l.item.bytes.clone());
    if xs.is_empty() || ys.is_empty() || xs.len() > MAX_HUNK || ys.len() > MAX_HUNK {
        return Vec::new();
    }
    let (n, m) = (xs.len(), ys.len());
    let w = m + 1;
    let mut best = vec![0.0f64; (n + 1) * w];
    let sim = |x: usize, y: usize| {
        let (Some(p), Some(q)) = (
            xs.get(x).and_then(|&i| bytes(a, i)),
            ys.get(y).and_then(|&i| bytes(b, i)),
        ) else {
            return 0.0;
        };
        if related(&p, &q) {
            likeness(&p, &q).max(MIN_LIKENESS)
        } else {
            0.0
        }
    };
    for x in (0..n).rev() {
        for y in (0..m).rev() {
            let take = match sim(x, y) {
                s if s > 0.0 => s + best.get((x + 1) * w + y + 1).copied().unwrap_or(0.0),
                _ => 0.0,
            };
            let skip_a = best.get((x + 1) * w + y).copied().unwrap_or(0.0);
            let skip_b = best.get(x * w + y + 1).copied().unwrap_or(0.0);
            if let Some(cell) = best.get_mut(x * w + y) {
                *cell = take.max(skip_a).max(skip_b);
            }
        }
    }
    let mut out = Vec::new();
    let (mut x, mut y) = (0, 0);
    while x < n && y < m {
        let here = best.get(x * w + y).copied().unwrap_or(0.0);
        let s = sim(x, y);
        let rest = best.get((x + 1) * w + y + 1).copied().unwrap_or(0.0);
        if s > 0.0 && (here - (s + rest)).abs() < 1e-9 {
            out.push((x, y));
            x += 1;
            y += 1;
        } else if (here - best.get((x + 1) * w + y).copied().unwrap_or(0.0)).abs() < 1e-9 {
            x += 1;
        } else {
            y += 1;
        }
    }
    out
}

/// Two lines that may be one line changed on the path: of one length (a
/// mask: `STARTTLS` → `XXXXXXXX`), alike (see [`likeness`]), or with the
/// same first word (the same command, the same reply code, the same IMAP
/// tag). Anything else is one line dropped and another injected.
pub(crate) fn related(a: &[u8], b: &[u8]) -> bool {
    let first = |l: &[u8]| crate::proto::words::split_word(l).0.to_ascii_uppercase();
    a.len() == b.len() || likeness(a, b) >= MIN_LIKENESS || (!a.is_empty() && first(a) == first(b))
}

/// How alike two lines are, in [0, 1]: the share of their common prefix
/// and suffix; lines of one length also count the positions that agree
/// (a same-length rewrite, `250-STARTTLS` → `250-XXXXXXXA`, is likely).
pub(crate) fn likeness(a: &[u8], b: &[u8]) -> f64 {
    let max = a.len().max(b.len());
    if max == 0 {
        return 1.0;
    }
    let min = a.len().min(b.len());
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take(min - prefix)
        .take_while(|(x, y)| x == y)
        .count();
    let mut s = (prefix + suffix) as f64 / max as f64;
    if a.len() == b.len() {
        let same = a.iter().zip(b).filter(|(x, y)| x == y).count();
        s = s.max(0.5 + 0.5 * same as f64 / max as f64);
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn likeness_of_masks_and_rewrites() {
        assert!(likeness(b"250-STARTTLS", b"250-XXXXXXXA") >= 0.5);
        assert!(likeness(b"STARTTLS", b"XXXXXXXX") >= 0.5);
        assert!(likeness(b"250-CHUNKING", b"250 CHUNKING") > 0.9);
        assert!(likeness(b"EHLO a.example", b"QUIT") < 0.5);
        assert_eq!(likeness(b"", b""), 1.0);
        assert!(related(b"STARTTLS", b"XXXXXXXX"));
        assert!(related(b"EHLO a", b"EHLO b.example.org"));
        assert!(related(b"a2 LOGIN x y", b"a2 NOOP"));
        assert!(!related(b"STARTTLS", b"MAIL FROM:<a@example.org>"));
        assert!(!related(b"220 2.0.0 Ready to start TLS", b"250 2.1.0 Ok"));
    }
}
