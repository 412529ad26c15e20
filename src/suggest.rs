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
    closest(wrong, candidates).map(|s| format!("did you mean `{s}`?"))
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
}
