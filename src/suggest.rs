//! "Did you mean": the known names closest to a mistyped one (functions, kinds, commands).

/// The candidates close enough to `name` to be a typo of it, closest first (at most three).
/// Case is ignored; a candidate that contains the name counts as close too (`rollout` finds
/// `wait_rollout`).
pub fn closest<'a, I>(name: &str, candidates: I) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    ranked(name, candidates, true)
}

/// Like [`closest`], by spelling only: for kinds, where a longer name containing the one typed
/// (`ServiceEntry` typed, `Service` served) is another thing, not a typo.
pub fn typos<'a, I>(name: &str, candidates: I) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    ranked(name, candidates, false)
}

fn ranked<'a, I>(name: &str, candidates: I, containing: bool) -> Vec<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let wanted = name.to_lowercase();
    let limit = 2.max(wanted.chars().count() / 4);
    let mut scored: Vec<(usize, &'a str)> = candidates
        .into_iter()
        .filter(|c| c.chars().count() > 2 || c.eq_ignore_ascii_case(name))
        .filter_map(|c| {
            let lower = c.to_lowercase();
            let d = edit_distance(&wanted, &lower);
            if d <= limit && d < lower.chars().count() {
                Some((d, c))
            } else if containing && wanted.chars().count() >= 3 && lower.contains(&wanted) {
                Some((limit + 1, c))
            } else {
                None
            }
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    let mut out: Vec<&'a str> = Vec::new();
    for (_, c) in scored {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out.truncate(3);
    out
}

/// Levenshtein distance, counting a swap of two neighbouring letters as one edit
/// (`deplyoment` is one edit from `deployment`).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// `` `a`, `b` or `c` ``, for a help line.
pub fn or_list(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_swaps_as_one_edit() {
        assert_eq!(edit_distance("wait_rolout", "wait_rollout"), 1);
        assert_eq!(edit_distance("deplyoment", "deployment"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn closest_names_come_first() {
        let kinds = ["deployment", "daemonset", "service", "deployments", "pod"];
        assert_eq!(
            closest("deplyoment", kinds),
            vec!["deployment", "deployments"]
        );
        assert_eq!(closest("Service", kinds), vec!["service"]);
        assert!(closest("zzzzzz", kinds).is_empty());
        assert_eq!(
            closest("rollout", ["wait_rollout", "say"]),
            vec!["wait_rollout"]
        );
        assert!(typos("serviceentry", kinds).is_empty());
        assert_eq!(or_list(&["a", "b", "c"]), "`a`, `b` or `c`");
    }
}
