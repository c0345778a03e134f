//! Secrets never appear, in any encoding: a property test over generated secrets (mixed case,
//! 4 to 64 characters, unicode, regex metacharacters, spaces), first against the redactor
//! itself (a few hundred, deterministic: a seeded generator), then end to end through the
//! binary (a handful), where a runbook prints, fails on, applies in a Secret and logs the
//! secret every way the script surface allows, with `-vv`, all three reports and the REPL.
//! See: issue 12.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use meshbook::report::Redactor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::support::Test;

/// Characters secrets are made of: both cases, digits, regex metacharacters, what JSON, YAML,
/// XML and URLs escape, spaces, and non-ASCII (two-, three- and four-byte UTF-8).
const ALPHABET: &[char] = &[
    'a', 'b', 'q', 'x', 'z', 'A', 'B', 'Q', 'X', 'Z', '0', '1', '7', '9', '.', '*', '+', '?', '(',
    ')', '[', ']', '{', '}', '|', '^', '$', '\\', '"', '\'', '/', '&', '<', '>', '%', '=', '#',
    ':', ';', ',', '-', '_', '~', '!', '@', ' ', ' ', 'é', 'ß', 'Ω', '漢', '€', '😀', '🔑',
];

/// A secret of 4 to 64 characters, trimmed of surrounding spaces (what is masked is the
/// trimmed value).
fn secret(rng: &mut StdRng) -> String {
    loop {
        let len = rng.gen_range(4..=64);
        let s: String = (0..len)
            .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
            .collect();
        let s = s.trim().to_string();
        if s.chars().count() >= 4 {
            return s;
        }
    }
}

fn json(s: &str) -> String {
    let q = serde_json::to_string(s).expect("json");
    q[1..q.len() - 1].to_string()
}

/// JSON with every non-ASCII character and `<`, `>`, `&` as `\uXXXX` (Python's `ensure_ascii`,
/// Go's HTML-safe encoder).
fn json_ascii(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_ascii() && !matches!(c, '<' | '>' | '&') => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
        }
    }
    out
}

fn percent(s: &str, upper: bool, plus: bool) -> String {
    s.bytes()
        .map(|b| match b {
            b' ' if plus => "+".to_string(),
            b if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) => char::from(b).to_string(),
            b if upper => format!("%{b:02X}"),
            b => format!("%{b:02x}"),
        })
        .collect()
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The encodings a secret travels in, each as it would be embedded in text (whole values).
fn encodings(s: &str) -> Vec<(&'static str, String)> {
    let yaml = serde_yaml::to_string(&serde_yaml::Mapping::from_iter([(
        "token".into(),
        s.into(),
    )]))
    .expect("yaml");
    vec![
        ("raw", s.to_string()),
        ("base64", STANDARD.encode(s)),
        ("base64 unpadded", STANDARD_NO_PAD.encode(s)),
        ("base64url", URL_SAFE.encode(s)),
        ("base64url unpadded", URL_SAFE_NO_PAD.encode(s)),
        ("json", json(s)),
        ("json ascii", json_ascii(s)),
        ("json in json", json(&json(s))),
        ("yaml", yaml),
        ("yaml single-quoted", format!("'{}'", s.replace('\'', "''"))),
        ("rust debug", format!("{s:?}")),
        ("percent", percent(s, true, false)),
        ("percent lowercase", percent(s, false, false)),
        ("form", percent(s, true, true)),
        ("xml", xml(s)),
    ]
}

/// The characters of `base64(blob)` that depend only on the bytes `start..end` of `blob`:
/// what a secret inside a longer encoded value looks like.
fn base64_core(encoded: &str, start: usize, end: usize) -> String {
    encoded
        .char_indices()
        .filter(|(i, _)| {
            let first_bit = i * 6;
            let last_bit = first_bit + 5;
            first_bit / 8 >= start && last_bit / 8 < end
        })
        .map(|(_, c)| c)
        .collect()
}

/// What must not be found anywhere: every encoding of the secret (whole), plus the forms of
/// it inside longer base64 at the three alignments (those at least `min_core` long).
fn forbidden(s: &str, min_core: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = encodings(s)
        .into_iter()
        .filter(|(what, _)| *what != "yaml")
        .map(|(what, form)| (what.to_string(), form))
        .collect();
    for prefix in 0..3 {
        let mut blob = vec![b'#'; prefix];
        blob.extend_from_slice(s.as_bytes());
        blob.push(b'#');
        for (name, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
            let core = base64_core(&engine.encode(&blob), prefix, prefix + s.len());
            if core.len() >= min_core {
                out.push((format!("{name} at offset {prefix}"), core));
            }
        }
    }
    out
}

fn assert_clean(text: &str, secret: &str, min_core: usize, place: &str) {
    for (what, form) in forbidden(secret, min_core) {
        assert!(
            !text.contains(&form),
            "the {what} form of secret {secret:?} ({form:?}) leaked into {place}:\n{text}"
        );
    }
}

#[test]
fn generated_secrets_are_masked_in_every_encoding() {
    let mut rng = StdRng::seed_from_u64(12);
    for _ in 0..300 {
        let s = secret(&mut rng);
        let r = Redactor::new();
        // Registered as read from the environment: sometimes with surrounding spaces.
        let registered = if rng.gen_bool(0.2) {
            format!("  {s} ")
        } else {
            s.clone()
        };
        r.add(&registered).expect("4 characters or more");
        let mut texts: Vec<String> = encodings(&s)
            .into_iter()
            .map(|(_, form)| format!("before {form} after"))
            .collect();
        // Inside longer base64 blobs, at every alignment: `user:SECRET`, `SECRET\n`, ...
        for prefix in ["", "u", "us", "user:", "{\"token\":\""] {
            for suffix in ["", "\n", "\"}", "-tail"] {
                let blob = format!("{prefix}{registered}{suffix}");
                texts.push(format!("data: {} end", STANDARD.encode(&blob)));
                texts.push(format!("data: {} end", URL_SAFE_NO_PAD.encode(&blob)));
            }
        }
        for text in texts {
            let out = r.redact(&text);
            assert_clean(&out, &s, 4, "redacted text");
            assert!(
                out.starts_with("before ") || out.starts_with("data: "),
                "masked too much: {out:?}"
            );
            assert!(
                out.ends_with(" after") || out.ends_with(" end"),
                "masked too much: {out:?}"
            );
        }
        // What is not a secret stays as it was.
        let plain = "the Simple Bookstore App, served by cluster2";
        assert_eq!(r.redact(plain), plain);
    }
}

/// Escapes a value for a Rhai string literal.
fn rhai_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

const LEAKY_RUNBOOK: &str = r#"//! title: Leak
//! clusters:
//!   cluster1: CLUSTER1
//! env:
//!   LEAK_SECRET: { secret: true, description: "the generated secret" }
let s = secret_env("LEAK_SECRET");
let c = cluster("cluster1");
section("Print", || {
    say(s);
    print(`print: ${s}`);
    debug(s);
    say(#{ token: s, nested: [s] });
    say(to_yaml(#{ token: s }));
    say(to_json(#{ token: s }));
    step(`step named ${s}`, || { say("inside"); });
    expect(true, `a check that names ${s}`);
});
section("Apply", || {
    c.create_namespace("leak");
    c.create_secret("leak", "token", #{ token: s });
    c.apply(`apiVersion: v1
kind: Secret
metadata: {name: raw, namespace: leak}
stringData:
  token: ${to_json(s)}`);
    say(to_yaml(c.get("secret", "token", "leak")));
    say(to_json(c.get("secret", "raw", "leak")));
    say(c.secret_data("leak", "raw", "token"));
    // Inside a longer value meshbook never saw whole: base64("user:" + secret).
    c.kubectl(["create", "secret", "generic", "basic", "-n", "leak", `--from-literal=auth=user:${s}`]);
    say(to_yaml(c.get("secret", "basic", "leak")));
    c.kubectl(["get", "secret", "raw", "-n", "leak", "-o", "yaml"]);
    // A tool printing it: streamed (masked), and declared secret output (not streamed).
    c.kubectl(["get", "secret", "token", "-n", "leak", "-o", "yaml"]);
    c.kubectl(["get", "secret", "token", "-n", "leak", "-o", "go-template={{.data.token | base64decode}}"]);
    let out = c.kubectl(["get", "secret", "token", "-n", "leak", "-o", "go-template=token: {{.data.token | base64decode}}"],
                        #{ secret_output: "token: (.+)" });
    say(out.stdout);
});
section("Fail", || {
    expect(false, `the secret is ${s}`);
});
"#;

#[test]
fn generated_secrets_leak_nowhere_through_the_binary() {
    let mut rng = StdRng::seed_from_u64(1212);
    let mut secrets: Vec<String> = vec![
        "MiXeD-Secret-Q".into(),
        "a.*b(c)|[d]^$ +?".into(),
        "quote\"back\\slash'amp&<lt>".into(),
        "ünïcødé 漢字 🔑 key".into(),
        "abcd".into(),
    ];
    secrets.extend((0..3).map(|_| secret(&mut rng)));
    let runs: Vec<_> = secrets
        .into_iter()
        .map(|s| std::thread::spawn(move || leak_run(&s)))
        .collect();
    for run in runs {
        if let Err(e) = run.join() {
            std::panic::resume_unwind(e);
        }
    }
}

fn leak_run(secret: &str) {
    // At the first step prompt: the REPL, where the secret is shown, typed and computed.
    let repl = format!(
        "r\ns\nsay(s)\nlet typed = {}; typed\ntyped + \"-suffix\"\n:continue\nc\n",
        rhai_string(secret)
    );
    let out = Test::runbook(LEAKY_RUNBOOK)
        .env("LEAK_SECRET", secret)
        .args(&["-vv", "--step", "--interactive"])
        .args(&[
            "--report", "r.json", "--report", "r.xml", "--report", "r.md",
        ])
        .stdin(&repl)
        .run()
        .status(1)
        .stdout_has("***")
        .stderr_has("expectation failed: the secret is ***");
    // It did run: every section, the REPL, the logs, the reports.
    let json = out.json("r.json");
    assert_eq!(json["sections"][1]["status"], "passed", "{json}");
    assert_eq!(json["sections"][2]["status"], "failed", "{json}");
    assert!(out.stderr.contains("DEBUG"), "-vv logs: {}", out.stderr);
    let history = out.file(".state/meshbook/history");
    assert!(history.contains("let typed = "), "{history}");

    assert_clean(&out.stdout, secret, 6, "stdout");
    assert_clean(&out.stderr, secret, 6, "stderr");
    for file in ["r.json", "r.xml", "r.md", ".state/meshbook/history"] {
        assert_clean(&out.file(file), secret, 6, file);
    }
}

#[test]
fn a_mixed_case_secret_in_a_check_message_stays_masked_in_every_report() {
    let out = Test::runbook(
        "//! env:\n//!   API_TOKEN: { secret: true }\nlet k = secret_env(\"API_TOKEN\");\nsection(\"s\", || {\n  expect(true, \"contains `Simple Bookstore App`\");\n  expect(false, `token was ${k}`);\n});\n",
    )
    .env("API_TOKEN", "MiXeD-Secret-Q")
    .args(&["--report", "run.md", "--report", "run.xml", "--report", "run.json"])
    .run()
    .status(1)
    .nowhere("MiXeD-Secret-Q")
    .nowhere("mixed-secret-q");
    for file in ["run.md", "run.xml"] {
        let text = out.file(file);
        assert!(text.contains("token was ***"), "{file}: {text}");
        // Nothing rewrites what a check says.
        assert!(
            text.contains("contains `Simple Bookstore App`"),
            "{file}: {text}"
        );
    }
}

#[test]
fn a_secret_too_short_to_mask_is_refused_at_start_naming_the_variable() {
    // On real clusters the run is refused before anything is touched.
    let script = "//! env:\n//!   MY_TOKEN: { secret: true }\nlet c = cluster(\"cluster1\");\nsection(\"a\", || { say(secret_env(\"MY_TOKEN\")); });\n";
    Test::runbook(script)
        .env("MY_TOKEN", "abc")
        .args(&["--context", "cluster1=nowhere"])
        .run()
        .status(2)
        .stderr_has("`MY_TOKEN` is 3 characters long, too short to be masked safely")
        .stdout_lacks("abc")
        .stdout_lacks("▶ a")
        .no_backtrace();
    // Read by literal name without a header declaration: refused the same way.
    Test::runbook("let c = cluster(\"cluster1\");\nlet t = secret_env(\"SHORT\");\nsection(\"a\", || { say(t); });\n")
        .env("SHORT", "xy")
        .args(&["--context", "cluster1=nowhere"])
        .run()
        .status(2)
        .stderr_has("`SHORT` is 2 characters long");
    // A rehearsal never sends a secret anywhere: the short value is not used (nor printed),
    // a placeholder stands in, and the run goes on.
    // (A value no generated file holds by chance: a content hash may contain `abc`.)
    Test::runbook(script)
        .env("MY_TOKEN", "Zq~")
        .run()
        .status(0)
        .stdout_has("MY_TOKEN is 3 characters long")
        .stdout_has("a placeholder stands in on simulated clusters")
        .stdout_has("***")
        .nowhere("Zq~")
        .no_backtrace();
}

#[test]
fn secret_output_is_not_streamed_and_is_masked_from_then_on() {
    let out = Test::runbook(
        "let out = run(\"sh\", [\"-c\", \"echo '{'; echo bootstrap-token-$((6*7))XYZ; echo '}'\"], #{secret_output: true});\nsection(\"s\", || {\n  say(`got ${out.stdout.len()} bytes`);\n  say(out.stdout);\n  expect(out.stdout.contains(\"bootstrap-token-42XYZ\"), \"the script gets the raw value\");\n});\n",
    )
    .args(&["--report", "r.json"])
    .run()
    .status(0)
    .stdout_has("got 26 bytes")
    .stdout_has("{\n  ***\n  }")
    .nowhere("bootstrap-token-42XYZ");
    assert_eq!(out.json("r.json")["summary"]["checks_passed"], 1);
    // A pattern: only its captures are secret; one that matches nothing stops the step.
    Test::runbook(
        "section(\"s\", || {\n  let out = run(\"printf\", [\"token: abcd1234\\n\"], #{secret_output: \"token: (\\\\S+)\"});\n  say(out.stdout);\n  run(\"printf\", [\"nothing here\"], #{secret_output: \"token: (\\\\S+)\"});\n});\n",
    )
    .run()
    .status(1)
    .stdout_has("token: ***")
    .stderr_has("the `secret_output` pattern `token: (\\S+)` matched nothing")
    .nowhere("abcd1234")
    .stdout_lacks("nothing here");
}

#[test]
fn the_workshops_vm_bootstrap_token_is_never_shown() {
    // What the ambient workshop does in "Step 1: Generate the Bootstrap Configuration".
    Test::runbook(
        "//! clusters:\n//!   cluster1: CLUSTER1\nlet c1 = cluster(\"cluster1\");\nsection(\"Step 1\", || {\n  let b = c1.istioctl([\"bootstrap\", \"--namespace\", \"vm1\", \"--service-account\", \"vm1\"], #{secret_output: true});\n  expect(b.stdout.contains(\"bootstrap-token\"), \"the token is kept for the script\");\n  say(`token: ${b.stdout}`);\n});\n",
    )
    .args(&["-v", "--report", "r.json", "--report", "r.md"])
    .run()
    .status(0)
    .stdout_has("token: ***")
    .nowhere("simulated-bootstrap-token-vm1-vm1");
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/runbooks/ambient-multicluster-workshop.rhai"
    ))
    .expect("the workshop runbook");
    assert!(
        src.contains("#{secret_output: true}"),
        "the workshop declares the bootstrap output secret"
    );
}
