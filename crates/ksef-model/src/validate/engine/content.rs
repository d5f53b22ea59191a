//! The content model of an element matched against its children, when it closes.

use super::{Frame, UNKNOWN, Validator};
use crate::validate::Rule;
use crate::validate::tables::{SchemaTables, Term, TypeRef};

impl Validator {
    /// Matches the children against the content model; reports the first problem.
    pub(super) fn content(&mut self, frame: &Frame, particle: u16) {
        let mut expected = std::mem::take(&mut self.expected);
        expected.clear();
        let mut m = Matcher {
            t: self.t,
            kids: &frame.children,
            furthest: 0,
            expected,
            pool: std::mem::take(&mut self.pool),
        };
        let mut out = std::mem::take(&mut self.reached);
        out.clear();
        m.particle(particle, 0, &mut out);
        let n = frame.children.len();
        let (furthest, expected) = (m.furthest, m.expected);
        self.pool = m.pool;
        let matched = out.contains(&n);
        self.reached = out;
        if matched {
            self.expected = expected;
            return;
        }
        let t = self.t;
        let f = furthest;
        let mut expected: Vec<u16> = expected;
        expected.sort_by_key(|&d| t.elements[usize::from(d)].order);
        expected.dedup();
        let names: Vec<&'static str> = expected
            .iter()
            .map(|&d| t.elements[usize::from(d)].name)
            .collect();
        if f >= n {
            self.report(
                self.path.clone(),
                Rule::MissingElement { expected: names },
                None,
            );
            return;
        }
        let kid = frame.children[f];
        if kid == UNKNOWN {
            let (_, name, ns) = frame
                .unknown
                .iter()
                .find(|(at, _, _)| *at == f)
                .cloned()
                .unwrap_or_default();
            let path = format!("{}/{name}", self.path);
            let same_name = expected
                .iter()
                .map(|&d| &t.elements[usize::from(d)])
                .find(|e| e.name == name)
                .or_else(|| {
                    // The name is declared in this type, only the namespace differs.
                    let TypeRef::Complex(ct) = t.elements[usize::from(frame.decl)].ty else {
                        return None;
                    };
                    t.complex[usize::from(ct)]
                        .children
                        .iter()
                        .find(|(n, _)| *n == name)
                        .map(|&(_, d)| &t.elements[usize::from(d)])
                });
            let rule = match same_name {
                Some(e) => Rule::WrongNamespace {
                    expected: e.ns,
                    found: ns,
                },
                None => Rule::UnexpectedElement { expected: names },
            };
            self.report(path, rule, None);
            return;
        }
        let e = &t.elements[usize::from(kid)];
        let index = e
            .repeats
            .then(|| frame.children[..=f].iter().filter(|&&c| c == kid).count());
        let mut path = format!("{}/{}", self.path, e.name);
        if let Some(i) = index {
            path.push_str(&format!("[{i}]"));
        }
        let rule = if f > 0 && frame.children[f - 1] == kid {
            Rule::TooManyOccurrences { max: e.max }
        } else if !expected.is_empty()
            && expected
                .iter()
                .all(|&d| t.elements[usize::from(d)].order < e.order)
        {
            self.report(
                self.path.clone(),
                Rule::MissingElement { expected: names },
                None,
            );
            return;
        } else if expected.is_empty() {
            Rule::UnexpectedElement { expected: names }
        } else {
            Rule::WrongOrder { expected: names }
        };
        self.report(path, rule, None);
    }
}

/// Matches a list of children against a particle, as a set of reachable positions.
struct Matcher<'a> {
    t: &'static SchemaTables,
    kids: &'a [u16],
    /// The furthest position an element was tried at.
    furthest: usize,
    /// Elements tried (and failed) at `furthest`.
    expected: Vec<u16>,
    /// Spare position buffers.
    pool: Vec<Vec<usize>>,
}

fn push_unique(out: &mut Vec<usize>, p: usize) {
    if !out.contains(&p) {
        out.push(p);
    }
}

impl Matcher<'_> {
    fn particle(&mut self, p: u16, pos: usize, out: &mut Vec<usize>) {
        let part = &self.t.particles[usize::from(p)];
        if let Term::Element(e) = part.term {
            // An element particle takes the whole run of its element (capped at max), even when
            // optional: stopping earlier would let a later particle take the same element, which
            // the Unique Particle Attribution rule of XSD excludes. So a sequence of element
            // particles is matched deterministically, one position at a time.
            let run = self.kids[pos..]
                .iter()
                .take(usize::try_from(part.max).unwrap_or(usize::MAX))
                .take_while(|&&k| k == e)
                .count();
            let end = pos + run;
            if end > self.furthest {
                self.furthest = end;
                self.expected.clear();
            }
            if end == self.furthest && (run as u64) < u64::from(part.max) {
                // Another occurrence could come here.
                self.expected.push(e);
            }
            if run as u64 >= u64::from(part.min) {
                push_unique(out, end);
            }
            return;
        }
        if part.min == 0 {
            push_unique(out, pos);
        }
        if part.max == 1 {
            self.term(&part.term, pos, out);
            return;
        }
        let mut seen = vec![false; self.kids.len() + 1];
        seen[pos] = true;
        let mut frontier = vec![pos];
        let mut next = Vec::new();
        let mut k = 0u32;
        while !frontier.is_empty() && k < part.max {
            k += 1;
            next.clear();
            for &s in &frontier {
                self.term(&part.term, s, &mut next);
            }
            if k >= part.min {
                for &n in &next {
                    push_unique(out, n);
                }
                next.retain(|&n| !seen[n]);
            }
            for &n in &next {
                seen[n] = true;
            }
            std::mem::swap(&mut frontier, &mut next);
        }
    }

    fn term(&mut self, term: &Term, pos: usize, out: &mut Vec<usize>) {
        match term {
            Term::Element(e) => {
                if self.kids.get(pos) == Some(e) {
                    if pos + 1 > self.furthest {
                        self.furthest = pos + 1;
                        self.expected.clear();
                    }
                    push_unique(out, pos + 1);
                } else {
                    if pos > self.furthest {
                        self.furthest = pos;
                        self.expected.clear();
                    }
                    if pos == self.furthest {
                        self.expected.push(*e);
                    }
                }
            }
            Term::Sequence(items) => {
                let mut frontier = self.pool.pop().unwrap_or_default();
                let mut next = self.pool.pop().unwrap_or_default();
                frontier.clear();
                frontier.push(pos);
                for &item in *items {
                    next.clear();
                    for &s in &frontier {
                        self.particle(item, s, &mut next);
                    }
                    std::mem::swap(&mut frontier, &mut next);
                    if frontier.is_empty() {
                        break;
                    }
                }
                for &p in &frontier {
                    push_unique(out, p);
                }
                self.pool.push(frontier);
                self.pool.push(next);
            }
            Term::Choice(items) => {
                for &item in *items {
                    self.particle(item, pos, out);
                }
            }
        }
    }
}
