//! "Did you mean ...?": the closest name within a small edit distance.

/// Edit distance counting a swap of two neighbours as one edit (optimal string alignment), since
/// `env-dve` for `env-dev` is the commonest typo. `None` once it must exceed `limit`.
pub fn distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 0..a.len() {
        cur[0] = i + 1;
        for j in 0..b.len() {
            let cost = usize::from(a[i] != b[j]);
            let mut d = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && a[i] == b[j - 1] && a[i - 1] == b[j] {
                d = d.min(before[j - 1] + 1);
            }
            cur[j + 1] = d;
        }
        if cur.iter().all(|&d| d > limit) {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = prev[b.len()];
    (d <= limit).then_some(d)
}

/// The candidate closest to `wrong`, allowing one edit per four characters (at least one, at
/// most three). Ties go to the smallest name so the answer is deterministic.
pub fn closest<'a>(wrong: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 4).clamp(1, 3);
    candidates
        .filter(|c| *c != wrong)
        .filter_map(|c| distance(wrong, c, limit).map(|d| (d, c)))
        .min()
        .map(|(_, c)| c)
}

/// "did you mean `x`?" when a candidate is close to `wrong`.
pub fn did_you_mean<'a>(wrong: &str, candidates: impl Iterator<Item = &'a str>) -> Option<String> {
    closest(wrong, candidates).map(phrase)
}

/// The words of a suggestion.
pub fn phrase(name: &str) -> String {
    format!("did you mean `{name}`?")
}

/// Candidate names in a trie, so that "did you mean" for one missing name costs about the same
/// whatever the number of candidates: a search walks only the prefixes still within the edit
/// limit of the wrong name, computing one row of the edit-distance table per trie node, and
/// every row of a shared prefix is computed once. Comparing each missing name with every
/// candidate made a tree with thousands of broken references quadratic (89 s at 40,000
/// runtimes).
#[derive(Debug, Default)]
pub struct NameIndex {
    nodes: Vec<TrieNode>,
    names: Vec<Box<str>>,
    depth: usize,
}

#[derive(Debug, Clone, Copy)]
struct TrieNode {
    ch: char,
    first_child: u32,
    next_sibling: u32,
    /// The name ending here, as an index into `names`.
    name: u32,
}

const NONE: u32 = u32::MAX;

/// Names longer than this are not indexed or searched: no DNS name is, and a row of the table
/// per character must stay small.
const MAX_NAME_CHARS: usize = 256;

/// Table cells one search may compute. A wrong name among tens of thousands of similar ones
/// (`repo-10423-old` among `repo-1000` ... `repo-9999`) otherwise visits every prefix within
/// the limit, and the denser the names the more of them: the cost per search would grow with
/// the tree. Past the budget the closest name found so far is the answer. It covers a product's
/// few hundred names of a kind (a typo among 300 `repo-NNN` needs about 3,000 cells) and bounds
/// the worst case at a few microseconds per missing name.
const SEARCH_BUDGET: usize = 1 << 12;

impl NameIndex {
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> NameIndex {
        let mut sorted: Vec<&str> = names
            .into_iter()
            .filter(|n| n.chars().count() <= MAX_NAME_CHARS)
            .collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut index = NameIndex {
            nodes: vec![TrieNode {
                ch: '\0',
                first_child: NONE,
                next_sibling: NONE,
                name: NONE,
            }],
            names: Vec::with_capacity(sorted.len()),
            depth: 0,
        };
        // Sorted input: a new name shares a prefix with the previous one and branches off as
        // the last child of the node where they part, so each node's children stay sorted.
        let mut path: Vec<u32> = vec![0];
        let mut last_child: Vec<u32> = vec![NONE];
        let mut previous: Vec<char> = Vec::new();
        for name in sorted {
            let chars: Vec<char> = name.chars().collect();
            let common = chars
                .iter()
                .zip(&previous)
                .take_while(|(a, b)| a == b)
                .count();
            path.truncate(common + 1);
            for &ch in &chars[common..] {
                let parent = *path.last().expect("the root is always on the path");
                let id = index.nodes.len() as u32;
                index.nodes.push(TrieNode {
                    ch,
                    first_child: NONE,
                    next_sibling: NONE,
                    name: NONE,
                });
                match last_child[parent as usize] {
                    NONE => index.nodes[parent as usize].first_child = id,
                    sibling => index.nodes[sibling as usize].next_sibling = id,
                }
                last_child[parent as usize] = id;
                last_child.push(NONE);
                path.push(id);
            }
            let end = *path.last().expect("the root is always on the path");
            index.nodes[end as usize].name = index.names.len() as u32;
            index.names.push(name.into());
            index.depth = index.depth.max(chars.len());
            previous = chars;
        }
        index
    }

    /// The indexed name closest to `wrong` (other than `wrong` itself) within the limit of
    /// [`closest`], ties to the smallest name, like [`closest`] over all the names.
    pub fn closest(&self, wrong: &str) -> Option<&str> {
        let q: Vec<char> = wrong.chars().collect();
        if q.len() > MAX_NAME_CHARS || self.names.is_empty() {
            return None;
        }
        let limit = (q.len() / 4).clamp(1, 3);
        let width = q.len() + 1;
        // One row of the table per depth, and the trie's character at each depth of the path.
        let mut rows = vec![0usize; (self.depth + 1) * width];
        for (j, cell) in rows[..width].iter_mut().enumerate() {
            *cell = j;
        }
        let mut path = vec!['\0'; self.depth + 1];
        // The empty name, if indexed, sits at the root, `q.len()` edits away.
        let root = self.nodes[0].name;
        let mut best: Option<(usize, u32)> =
            (root != NONE && (1..=limit).contains(&q.len())).then_some((q.len(), root));
        let mut spent = 0usize;
        let mut stack: Vec<(u32, usize)> = Vec::new();
        self.push_children(0, 1, &mut stack);
        while let Some((node, d)) = stack.pop() {
            spent += width;
            if spent > SEARCH_BUDGET {
                break;
            }
            let n = self.nodes[node as usize];
            path[d] = n.ch;
            let (done, rest) = rows.split_at_mut(d * width);
            let prev = &done[(d - 1) * width..];
            let row = &mut rest[..width];
            row[0] = d;
            let mut smallest = d;
            for j in 1..width {
                let cost = usize::from(n.ch != q[j - 1]);
                let mut v = (prev[j] + 1).min(row[j - 1] + 1).min(prev[j - 1] + cost);
                if d > 1 && j > 1 && n.ch == q[j - 2] && path[d - 1] == q[j - 1] {
                    v = v.min(done[(d - 2) * width + j - 2] + 1);
                }
                row[j] = v;
                smallest = smallest.min(v);
            }
            let bound = best.map_or(limit, |(b, _)| b.saturating_sub(1));
            let at_end = row[width - 1];
            if n.name != NONE && at_end > 0 && at_end <= bound {
                // Depth-first in sorted order: the first name at a distance is the smallest.
                best = Some((at_end, n.name));
            }
            let bound = best.map_or(limit, |(b, _)| b.saturating_sub(1));
            if smallest <= bound {
                self.push_children(node, d + 1, &mut stack);
            }
        }
        best.map(|(_, i)| &*self.names[i as usize])
    }

    /// "did you mean `x`?" when an indexed name is close to `wrong`.
    pub fn did_you_mean(&self, wrong: &str) -> Option<String> {
        self.closest(wrong).map(phrase)
    }

    /// Pushes the children of `node` so that they pop in sorted order.
    fn push_children(&self, node: u32, depth: usize, stack: &mut Vec<(u32, usize)>) {
        let start = stack.len();
        let mut c = self.nodes[node as usize].first_child;
        while c != NONE {
            stack.push((c, depth));
            c = self.nodes[c as usize].next_sibling;
        }
        stack[start..].reverse();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_typo() {
        let names = ["env-dev", "env-prod", "env-qa"];
        assert_eq!(closest("env-dve", names.into_iter()), Some("env-dev"));
        assert_eq!(closest("totally-else", names.into_iter()), None);
        assert_eq!(distance("kitten", "sitting", 3), Some(3));
        assert_eq!(distance("kitten", "sitting", 2), None);
        assert_eq!(distance("env-dve", "env-dev", 1), Some(1));
    }

    proptest::proptest! {
        /// Within its budget the index answers exactly what comparing with every name does.
        #[test]
        fn the_index_agrees_with_the_scan_on_any_names(
            names in proptest::collection::vec("[ab-]{0,6}", 0..40),
            q in "[ab-]{0,7}",
        ) {
            let index = NameIndex::new(names.iter().map(String::as_str));
            proptest::prop_assert_eq!(
                index.closest(&q),
                closest(&q, names.iter().map(String::as_str))
            );
        }
    }

    /// The index answers exactly what comparing with every name answers.
    #[test]
    fn the_index_agrees_with_the_scan() {
        let names: Vec<String> = [
            "env-dev",
            "env-dve",
            "env-prod",
            "env-qa",
            "env",
            "e",
            "api-server",
            "api-sever",
            "repo-42",
            "repo-43",
            "repo-4",
            "dr-dev",
            "dr-de",
            "zz",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain((0..300).map(|i| format!("repo-{i:03}")))
        .collect();
        let index = NameIndex::new(names.iter().map(String::as_str));
        let queries = [
            "env-dve",
            "env-dev",
            "evn-dev",
            "env-pord",
            "api-srever",
            "repo-4x",
            "repo-123",
            "repo-1234",
            "repo-",
            "e",
            "x",
            "",
            "zz",
            "zzz",
            "dr-ed",
            "totally-else",
            "rpeo-042",
        ];
        for q in queries {
            assert_eq!(
                index.closest(q),
                closest(q, names.iter().map(String::as_str)),
                "query {q}"
            );
        }
    }
}
