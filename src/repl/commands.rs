//! Meta-commands: lines starting with `:` are the REPL's own commands, not Rhai.
use crate::problem::Problem;

/// A parsed meta-command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Meta {
    /// `:help [function]`
    Help(Option<String>),
    /// `:sections`: every section with its status.
    Sections,
    /// `:run SECTION`: runs one section's body now.
    Run(String),
    /// `:vars`: the variables in scope.
    Vars,
    /// `:full EXPR`: evaluates and shows a value whole (`managedFields` included).
    Full(String),
    /// `:clusters`: name -> context, or simulated.
    Clusters,
    /// `:continue`: leave the REPL and resume the run.
    Continue,
    /// `:retry`: run the failed section again.
    Retry,
    /// `:skip`: move on past the failed (or upcoming) section.
    Skip,
    /// `:abort`: end the run, failed.
    Abort,
    /// `:quit`: leave the REPL (and, in a run, end it).
    Quit,
}

/// Every meta-command, its argument and a one-line description, for `:help` and completion.
pub const COMMANDS: &[(&str, &str, &str)] = &[
    (
        ":help",
        "[function]",
        "this list, or a function's signature and doc",
    ),
    (
        ":sections",
        "",
        "the runbook's sections: pending, passed, failed, skipped",
    ),
    (":run", "SECTION", "run one section now"),
    (":vars", "", "the variables in scope"),
    (
        ":full",
        "EXPR",
        "show a value whole, managedFields included (folded otherwise)",
    ),
    (
        ":clusters",
        "",
        "the clusters: name -> context, or simulated",
    ),
    (
        ":continue",
        "",
        "resume the run (after a pause or a step prompt)",
    ),
    (
        ":retry",
        "",
        "run the failed section again (keeping what you changed)",
    ),
    (":skip", "", "move on past this section"),
    (":abort", "", "end the run (exit 1)"),
    (":quit", "", "leave the REPL (in a run: end it)"),
];

/// The meta-commands as aligned lines.
pub fn command_list() -> String {
    COMMANDS
        .iter()
        .map(|(c, a, d)| format!("  {:<22}{d}", format!("{c} {a}")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// When an entry spans lines and the last one is a meta-command, that command (the unfinished
/// Rhai before it is dropped).
pub fn trailing_command(entry: &str) -> Option<&str> {
    let last = entry.trim_end().lines().last()?.trim();
    (entry.trim().contains('\n') && last.starts_with(':')).then_some(last)
}

/// Parses a line. `None`: not a meta-command (evaluate it as Rhai). `Some(Err)`: a meta-command
/// that is unknown or badly formed, with a message saying what is expected.
pub fn parse(line: &str) -> Option<Result<Meta, Problem>> {
    let line = line.trim();
    let rest = line.strip_prefix(':')?;
    let (word, arg) = match rest.split_once(char::is_whitespace) {
        Some((w, a)) => (w, a.trim()),
        None => (rest, ""),
    };
    let arg = (!arg.is_empty()).then(|| arg.to_string());
    let no_arg = |m: Meta| match &arg {
        None => Ok(m),
        Some(a) => Err(Problem::new(format!(
            ":{word} takes no argument (got `{a}`)"
        ))),
    };
    Some(match word {
        "help" | "h" | "?" => Ok(Meta::Help(arg)),
        "sections" | "s" => no_arg(Meta::Sections),
        "run" | "r" => match arg {
            Some(a) => Ok(Meta::Run(unquote(&a).to_string())),
            None => Err(
                ":run needs a section title: `:run Link Clusters` (`:sections` lists them)".into(),
            ),
        },
        "vars" | "v" => no_arg(Meta::Vars),
        "full" => match arg {
            Some(a) => Ok(Meta::Full(a)),
            None => Err(
                ":full needs an expression: `:full c.get(\"deploy\", \"web\", \"demo\")`".into(),
            ),
        },
        "clusters" => no_arg(Meta::Clusters),
        "continue" | "c" => no_arg(Meta::Continue),
        "retry" => no_arg(Meta::Retry),
        "skip" => no_arg(Meta::Skip),
        "abort" => no_arg(Meta::Abort),
        "quit" | "q" | "exit" => no_arg(Meta::Quit),
        "" => Err("a meta-command follows the `:`; `:help` lists them".into()),
        other => Err(Problem::new(format!(
            "no meta-command `:{other}`; `:help` lists them{}",
            closest(other)
                .map(|c| format!(" (did you mean `{c}`?)"))
                .unwrap_or_default()
        ))),
    })
}

fn unquote(s: &str) -> &str {
    let t = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner;
        }
    }
    t
}

/// The meta-command a typo most likely meant (same first letter or a prefix).
fn closest(word: &str) -> Option<&'static str> {
    COMMANDS
        .iter()
        .map(|(c, _, _)| *c)
        .find(|c| c[1..].starts_with(word) || word.starts_with(&c[1..]))
}

/// The answer at a step prompt (`--step`, `--break`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepAnswer {
    /// Enter: run the section.
    Run,
    /// `s`: skip it.
    Skip,
    /// `r`: open the REPL (`:continue` comes back to the prompt).
    Repl,
    /// `c`: run it and every following section without asking.
    Continue,
    /// `q`: end the run.
    Quit,
}

/// The one-line help of the step prompt.
pub const STEP_KEYS: &str = "Enter run · s skip · r REPL · c continue · q quit";

/// Parses an answer at the step prompt; `None` for anything else (ask again).
pub fn parse_step(answer: &str) -> Option<StepAnswer> {
    match answer.trim().to_lowercase().as_str() {
        "" | "y" | "yes" | "run" => Some(StepAnswer::Run),
        "s" | "skip" => Some(StepAnswer::Skip),
        "r" | "repl" => Some(StepAnswer::Repl),
        "c" | "continue" => Some(StepAnswer::Continue),
        "q" | "quit" => Some(StepAnswer::Quit),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rhai_lines_are_not_meta_commands() {
        assert_eq!(parse("let a = 1;"), None);
        assert_eq!(parse("  c.get(\"ns\", \"x\")"), None);
        // A map literal with a symbol key is Rhai, not a command.
        assert_eq!(parse("#{a: 1}"), None);
    }

    #[test]
    fn parses_every_command_and_its_argument() {
        assert_eq!(parse(":help"), Some(Ok(Meta::Help(None))));
        assert_eq!(
            parse(":help  wait_rollout "),
            Some(Ok(Meta::Help(Some("wait_rollout".into()))))
        );
        assert_eq!(parse(":sections"), Some(Ok(Meta::Sections)));
        assert_eq!(
            parse(":run Link Clusters"),
            Some(Ok(Meta::Run("Link Clusters".into())))
        );
        assert_eq!(
            parse(":run \"Link Clusters\""),
            Some(Ok(Meta::Run("Link Clusters".into())))
        );
        assert_eq!(parse(":vars"), Some(Ok(Meta::Vars)));
        assert_eq!(parse(":clusters"), Some(Ok(Meta::Clusters)));
        assert_eq!(parse(":continue"), Some(Ok(Meta::Continue)));
        assert_eq!(parse(":c"), Some(Ok(Meta::Continue)));
        assert_eq!(parse(":retry"), Some(Ok(Meta::Retry)));
        assert_eq!(parse(":skip"), Some(Ok(Meta::Skip)));
        assert_eq!(parse(":abort"), Some(Ok(Meta::Abort)));
        assert_eq!(parse(":quit"), Some(Ok(Meta::Quit)));
        assert_eq!(parse(":q"), Some(Ok(Meta::Quit)));
    }

    #[test]
    fn bad_commands_say_what_is_expected() {
        let err = parse(":run").unwrap().unwrap_err().to_string();
        assert!(err.contains(":sections"), "{err}");
        let err = parse(":vars x").unwrap().unwrap_err().to_string();
        assert!(err.contains("takes no argument"), "{err}");
        let err = parse(":retyr").unwrap().unwrap_err().to_string();
        assert!(err.contains("no meta-command `:retyr`"), "{err}");
        let err = parse(":sect").unwrap().unwrap_err().to_string();
        assert!(err.contains("did you mean `:sections`"), "{err}");
    }

    #[test]
    fn a_command_ends_an_unfinished_entry() {
        assert_eq!(trailing_command("let y = [1,\n:quit"), Some(":quit"));
        assert_eq!(trailing_command(":quit"), None);
        assert_eq!(trailing_command("let y = [1,\n2];"), None);
        assert!(command_list().contains("  :run SECTION          run one section now"));
    }

    #[test]
    fn step_answers() {
        assert_eq!(parse_step(""), Some(StepAnswer::Run));
        assert_eq!(parse_step(" s "), Some(StepAnswer::Skip));
        assert_eq!(parse_step("R"), Some(StepAnswer::Repl));
        assert_eq!(parse_step("c"), Some(StepAnswer::Continue));
        assert_eq!(parse_step("q"), Some(StepAnswer::Quit));
        assert_eq!(parse_step("what"), None);
    }
}
