//! The meta-commands' implementations: `:help`, `:sections`, `:run`, `:vars`, `:clusters`, and
//! what `:continue`, `:retry`, `:skip`, `:abort`, `:quit` mean in each mode.

use rhai::Scope;

use super::commands::{self, Meta};
use super::{render, Mode, Outcome, Repl};
use crate::engine::runner::{section_failure, stop_request};

impl Repl<'_> {
    /// Runs a meta-command; `Some` when it leaves the REPL.
    pub(super) fn meta(&self, scope: &mut Scope, meta: Meta, mode: Mode) -> Option<Outcome> {
        let in_run = mode != Mode::Session;
        match meta {
            Meta::Help(topic) => self.help(topic.as_deref(), mode),
            Meta::Sections => self.sections(),
            Meta::Run(name) => self.run_section(scope, &name),
            Meta::Full(expr) => return self.eval_shown(scope, &expr, true),
            Meta::Vars => {
                let mut seen = std::collections::BTreeMap::new();
                for (name, constant, value) in scope.iter() {
                    seen.insert(name.to_string(), (constant, render::preview(&value, 70)));
                }
                if seen.is_empty() {
                    self.out("(no variables in scope)");
                }
                for (name, (constant, text)) in seen {
                    let kw = if constant { "const" } else { "let" };
                    self.out(&format!("{kw} {name} = {text}"));
                }
            }
            Meta::Clusters => {
                let members = self.session.fleet.members();
                if members.is_empty() {
                    self.out("(no clusters: the runbook declares none)");
                }
                for m in members {
                    let target = match m.cluster.context() {
                        Some(ctx) if m.simulated => format!("{ctx} (simulated)"),
                        Some(ctx) => ctx.to_string(),
                        None => format!("simulated ({})", m.cluster.server()),
                    };
                    self.out(&format!("{} -> {target}", m.name()));
                }
            }
            Meta::Continue => match mode {
                Mode::Pause | Mode::Step => return Some(Outcome::Continue),
                Mode::Failure => {
                    self.err("the section failed: :retry runs it again, :skip moves on, :abort ends the run")
                }
                Mode::Session => self.err("nothing to continue: this REPL is not inside a run (:quit leaves)"),
            },
            Meta::Retry => match mode {
                Mode::Failure => return Some(Outcome::Retry),
                _ => self.err(":retry runs a failed section again; it works when a run stops on a failure (--pause-on-error)"),
            },
            Meta::Skip => match mode {
                Mode::Failure | Mode::Step => return Some(Outcome::Skip),
                Mode::Pause => self.err(":skip moves past a failed or upcoming section; here :continue resumes the script"),
                Mode::Session => self.err("nothing to skip: this REPL is not inside a run"),
            },
            Meta::Abort if in_run => return Some(Outcome::Abort),
            Meta::Abort => self.err(":abort ends a run; :quit leaves the REPL"),
            Meta::Quit if in_run => {
                self.out("ending the run");
                return Some(Outcome::Abort);
            }
            Meta::Quit => return Some(Outcome::Quit),
        }
        None
    }

    fn help(&self, topic: Option<&str>, mode: Mode) {
        let Some(topic) = topic else {
            let mut text = String::from("Type Rhai to evaluate it (an open block continues on the next line), or a command:\n");
            text.push_str(&commands::command_list());
            text.push('\n');
            text.push_str(match mode {
                Mode::Session => {
                    "Tab completes functions, methods after `c.`, variables, clusters and sections."
                }
                Mode::Pause | Mode::Step => ":continue resumes the run.",
                Mode::Failure => {
                    ":retry, :skip or :abort decide what happens to the failed section."
                }
            });
            self.out(&text);
            return;
        };
        let topic = topic.trim().trim_end_matches("()");
        let name = topic.rsplit('.').next().unwrap_or(topic);
        let docs = crate::engine::docs::functions(self.engine);
        let found: Vec<_> = docs.iter().filter(|d| d.name == name).collect();
        let script: Vec<_> = self
            .program
            .functions()
            .into_iter()
            .filter(|(n, _)| n == name)
            .collect();
        if found.is_empty() && script.is_empty() {
            let similar: Vec<&str> = docs
                .iter()
                .filter(|d| d.name.contains(name) || name.contains(d.name.as_str()))
                .map(|d| d.name.as_str())
                .take(8)
                .collect();
            let mut similar = similar;
            similar.dedup();
            self.err(&format!(
                "error: no function `{name}`{}",
                if similar.is_empty() {
                    "; `meshbook docs` lists every function".to_string()
                } else {
                    format!("; similar: {}", similar.join(", "))
                }
            ));
            return;
        }
        let mut text = String::new();
        for d in found {
            text.push_str(&format!("{}  [{}]\n", d.signature, d.family));
            for l in d.doc.lines() {
                text.push_str(&format!("    {l}\n"));
            }
            for l in d.example.lines() {
                text.push_str(&format!("    example: {l}\n"));
            }
        }
        for (n, params) in script {
            text.push_str(&format!(
                "fn {n}({})  [defined in the runbook]\n",
                params.join(", ")
            ));
        }
        self.out(text.trim_end());
    }

    fn sections(&self) {
        let titles = &self.program.titles;
        if titles.is_empty() {
            self.out("(no sections)");
            return;
        }
        let seen = self.session.state().sections.clone();
        // The report knows what the checks decided (a passed section whose checks were all
        // skipped is unverified).
        let report = self.session.reporter.report();
        for t in titles {
            let status = seen
                .iter()
                .rev()
                .find(|(title, _)| title == t)
                .map(|(_, s)| match s {
                    crate::report::Status::Passed => report
                        .sections
                        .iter()
                        .find(|r| &r.title == t)
                        .map_or(s.as_str(), |r| r.status.as_str()),
                    other => other.as_str(),
                })
                .unwrap_or("pending");
            self.out(&format!("  {status:<8} {t}"));
        }
    }

    fn run_section(&self, scope: &mut Scope, name: &str) {
        let title = match crate::session::find_section(&self.program.titles, ":run", name) {
            Ok(t) => t,
            Err(e) => {
                self.err(&format!("error: {e}"));
                return;
            }
        };
        let ast = match self.program.section(self.engine, scope, &title) {
            Some(Ok(ast)) => ast,
            Some(Err(e)) => {
                self.err(&format!("error: cannot compile section `{title}`: {e}"));
                return;
            }
            None => {
                self.err(&format!("error: no section `{title}`"));
                return;
            }
        };
        self.session.emit(crate::report::Event::Intervention {
            kind: "repl".into(),
            detail: format!(":run `{title}`"),
        });
        if let Err(err) = self.engine.run_ast_with_scope(scope, &ast) {
            match section_failure(&err) {
                Some(failed) => self.err(&failed.rendered),
                None if stop_request(&err).is_some() => {}
                None => {
                    let text = crate::engine::render_error(self.session, &err, None, Vec::new());
                    self.err(&text);
                }
            }
        }
    }
}
