//! Tab completion, as a pure function of the line and what the session knows: function names,
//! methods after `ident.`, variables, cluster names inside `cluster("`, section titles after
//! `:run `, meta-commands after `:`.

use super::commands::COMMANDS;

/// What can be completed, refreshed before each prompt.
#[derive(Clone, Debug, Default)]
pub struct Vocabulary {
    /// Every function a script can call (host functions and the runbook's own).
    pub functions: Vec<String>,
    /// Functions called as methods on a cluster handle, and its properties.
    pub methods: Vec<String>,
    /// Variables in scope.
    pub variables: Vec<String>,
    /// Logical cluster names.
    pub clusters: Vec<String>,
    /// Section titles of the runbook.
    pub sections: Vec<String>,
}

const KEYWORDS: &[&str] = &[
    "let", "const", "fn", "if", "else", "for", "in", "while", "loop", "return", "true", "false",
    "import", "as", "throw", "try", "catch", "break", "continue", "switch",
];

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Completes the text before `pos`: returns where the replaced word starts and the candidates.
pub fn complete(line: &str, pos: usize, v: &Vocabulary) -> (usize, Vec<String>) {
    let pos = pos.min(line.len());
    let before = &line[..pos];
    let lead = before.len() - before.trim_start().len();
    let trimmed = before.trim_start();

    if trimmed.starts_with(':') {
        return complete_meta(trimmed, lead, v);
    }
    if let Some((start, partial)) = inside_cluster_call(before) {
        return (start, by_prefix(&v.clusters, partial));
    }
    if in_string(before) {
        return (pos, Vec::new());
    }

    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_ident(*c))
        .last()
        .map(|(i, _)| i)
        .unwrap_or(pos);
    let word = &before[start..];
    let after_dot = before[..start].ends_with('.');
    if after_dot {
        let mut found = by_prefix(&v.methods, word);
        if found.is_empty() {
            found = by_prefix(&v.functions, word);
        }
        return (start, found);
    }
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return (pos, Vec::new());
    }
    let keywords: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
    let mut all = by_prefix(&v.variables, word);
    all.extend(by_prefix(&v.functions, word));
    all.extend(by_prefix(&keywords, word));
    all.sort();
    all.dedup();
    (start, all)
}

fn complete_meta(trimmed: &str, lead: usize, v: &Vocabulary) -> (usize, Vec<String>) {
    match trimmed.split_once(char::is_whitespace) {
        None => {
            let names: Vec<String> = COMMANDS.iter().map(|(c, _, _)| c.to_string()).collect();
            (lead, by_prefix(&names, trimmed))
        }
        Some((cmd, rest)) => {
            let arg = rest.trim_start();
            let start = lead + trimmed.len() - arg.len();
            match cmd {
                ":run" | ":r" => {
                    let mut found = by_prefix(&v.sections, arg);
                    if found.is_empty() {
                        let a = arg.to_lowercase();
                        found = v
                            .sections
                            .iter()
                            .filter(|s| s.to_lowercase().contains(&a))
                            .cloned()
                            .collect();
                    }
                    (start, found)
                }
                ":help" | ":h" | ":?" => (start, by_prefix(&v.functions, arg)),
                _ => (start, Vec::new()),
            }
        }
    }
}

/// Whether the text ends inside a string literal.
fn in_string(before: &str) -> bool {
    let mut open: Option<char> = None;
    let mut escaped = false;
    for c in before.chars() {
        match open {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => open = None,
            Some(_) => {}
            None if c == '"' || c == '`' => open = Some(c),
            None => {}
        }
    }
    open.is_some()
}

/// When the cursor is inside the string of `cluster("...`, where that string starts and what
/// is typed of it.
fn inside_cluster_call(before: &str) -> Option<(usize, &str)> {
    let quote = before.rfind('"')?;
    let partial = &before[quote + 1..];
    if partial.contains(|c: char| !is_ident(c) && c != '-') {
        return None;
    }
    let head = before[..quote].trim_end();
    let head = head.strip_suffix('(')?.trim_end();
    let name_start = head
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_ident(*c))
        .last()
        .map(|(i, _)| i)?;
    (&head[name_start..] == "cluster").then_some((quote + 1, partial))
}

/// Candidates starting with `prefix` (case-sensitive first; case-insensitive when none do).
fn by_prefix(items: &[String], prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = items
        .iter()
        .filter(|i| i.starts_with(prefix))
        .cloned()
        .collect();
    if found.is_empty() {
        let p = prefix.to_lowercase();
        found = items
            .iter()
            .filter(|i| i.to_lowercase().starts_with(&p))
            .cloned()
            .collect();
    }
    found.sort();
    found.dedup();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab() -> Vocabulary {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Vocabulary {
            functions: s(&[
                "cluster",
                "clusters",
                "curl",
                "expect",
                "wait_rollout",
                "wait_rollouts",
                "apply",
            ]),
            methods: s(&[
                "apply",
                "apply_file",
                "wait_rollout",
                "wait_rollouts",
                "name",
                "context",
            ]),
            variables: s(&["c", "c1", "count"]),
            clusters: s(&["cluster1", "cluster2", "mgmt"]),
            sections: s(&["Link Clusters", "Deploy Bookinfo", "Clean up"]),
        }
    }

    fn done(line: &str) -> (usize, Vec<String>) {
        complete(line, line.len(), &vocab())
    }

    #[test]
    fn methods_after_a_dot() {
        assert_eq!(
            done("c.wait_r"),
            (2, vec!["wait_rollout".into(), "wait_rollouts".into()])
        );
        assert_eq!(done("let x = c1.ap").1, vec!["apply", "apply_file"]);
        // Unknown as a method: any function may be called method-style.
        assert_eq!(done("c.cur").1, vec!["curl"]);
    }

    #[test]
    fn words_complete_to_variables_functions_and_keywords() {
        let (start, found) = done("let y = cou");
        assert_eq!(start, 8);
        assert_eq!(found, vec!["count"]);
        assert_eq!(done("clu").1, vec!["cluster", "clusters"]);
        assert_eq!(done("le").1, vec!["let"]);
        assert!(done("let y = ").1.is_empty());
        assert!(done("x = 12").1.is_empty());
    }

    #[test]
    fn cluster_names_inside_cluster_call() {
        assert_eq!(
            done("let c = cluster(\"clu"),
            (17, vec!["cluster1".into(), "cluster2".into()])
        );
        assert_eq!(done("cluster( \"").1, vec!["cluster1", "cluster2", "mgmt"]);
        // Another function's string is not completed as a cluster.
        assert!(done("say(\"clu").1.is_empty());
    }

    #[test]
    fn section_titles_after_run() {
        assert_eq!(done(":run Li"), (5, vec!["Link Clusters".into()]));
        assert_eq!(done(":run  de").1, vec!["Deploy Bookinfo"]);
        // A word from the middle of a title.
        assert_eq!(done(":run book").1, vec!["Deploy Bookinfo"]);
        assert_eq!(done(":run ").1.len(), 3);
    }

    #[test]
    fn meta_commands_and_help_topics() {
        assert_eq!(done(":re").1, vec![":retry"]);
        assert_eq!(done(":s").1, vec![":sections", ":skip"]);
        assert_eq!(done(":help wait").1, vec!["wait_rollout", "wait_rollouts"]);
        assert_eq!(done(":help wait").0, 6);
    }

    #[test]
    fn completes_at_the_cursor_not_the_end() {
        let line = "c.wait_r(\"ns\")";
        assert_eq!(
            complete(line, 8, &vocab()).1,
            vec!["wait_rollout", "wait_rollouts"]
        );
    }
}
