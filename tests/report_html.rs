//! The HTML report (issue 17) through the binary: every bundled rehearsal renders one
//! self-contained page with a lane per cluster and a bar per section; a failover reads as two
//! clusters in the traffic chart; a failed run shows its failure first; secrets stay masked.
//!
//! Each page is also opened in headless Chromium (Debian's `chromium`, which `.ci/run`
//! installs): the script runs to the end, nothing is logged to the console (the page's own
//! Content-Security-Policy turns any attempt to load something into a console error), and the
//! DOM the browser built has the lanes and bars. Where no browser is installed those checks are
//! skipped with the reason printed. Screenshots go to `target/tmp/html-report/`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::support::{Output, Test};

/// The dummy secrets of the rehearsals (the same as tests/runbooks.rs uses).
const SECRETS: &[(&str, &str)] = &[
    (
        "GLOO_MESH_LICENSE_KEY",
        "dummy-gloo-mesh-license-0123456789",
    ),
    (
        "GLOO_GATEWAY_LICENSE_KEY",
        "dummy-gloo-gateway-license-0123456789",
    ),
];

/// The largest page a bundled runbook may give.
const MAX_BYTES: usize = 400 * 1024;

/// Headless Chromium, when one is installed: `MESHBOOK_TEST_CHROMIUM`, or on PATH.
struct Browser {
    program: PathBuf,
}

/// What the browser made of a page.
struct Rendered {
    dom: String,
    console: Vec<String>,
}

impl Browser {
    fn find() -> Option<Browser> {
        if let Some(p) = std::env::var_os("MESHBOOK_TEST_CHROMIUM") {
            return Some(Browser { program: p.into() });
        }
        let path = std::env::var_os("PATH")?;
        for dir in std::env::split_paths(&path) {
            for name in [
                "chromium",
                "chromium-browser",
                "google-chrome",
                "google-chrome-stable",
            ] {
                let candidate = dir.join(name);
                if candidate.is_file() {
                    return Some(Browser { program: candidate });
                }
            }
        }
        None
    }

    /// The browser, or `None` after printing why the browser checks of `what` are skipped.
    fn or_skip(what: &str) -> Option<Browser> {
        let b = Browser::find();
        if b.is_none() {
            eprintln!(
                "skipped the browser checks of {what}: no headless Chromium found (install Debian's `chromium`, as .ci/run does, or set MESHBOOK_TEST_CHROMIUM)"
            );
        }
        b
    }

    fn command(&self, profile: &Path) -> Command {
        let mut cmd = Command::new(&self.program);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .env("HOME", profile);
        cmd
    }

    /// The DOM after the page's script ran, and every console message.
    fn open(&self, page: &Path, fragment: &str) -> Rendered {
        let profile = tempfile::tempdir().expect("profile dir");
        let out = self
            .command(profile.path())
            .arg("--dump-dom")
            .arg(format!("file://{}{fragment}", page.display()))
            .output()
            .expect("run chromium");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "chromium failed on {}: {stderr}",
            page.display()
        );
        Rendered {
            dom: String::from_utf8_lossy(&out.stdout).into_owned(),
            console: stderr
                .lines()
                .filter(|l| l.contains(":CONSOLE"))
                .map(String::from)
                .collect(),
        }
    }

    fn screenshot(&self, page: &Path, png: &Path, height: u32) {
        std::fs::create_dir_all(png.parent().unwrap()).unwrap();
        let profile = tempfile::tempdir().expect("profile dir");
        let out = self
            .command(profile.path())
            .arg(format!("--window-size=1400,{height}"))
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("run chromium");
        assert!(
            out.status.success() && png.is_file(),
            "no screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("screenshot of the HTML report: {}", png.display());
    }
}

impl Rendered {
    fn clean(self, what: &str) -> Self {
        assert!(
            self.console.is_empty(),
            "{what}: the browser console says:\n{}",
            self.console.join("\n")
        );
        assert!(
            self.dom.contains("data-ready=\"yes\""),
            "{what}: the page's script did not run to its end"
        );
        self
    }
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("html-report")
        .join(format!("{name}.png"))
}

/// The clusters a report's lanes should show: those the run started with, then any its events
/// name (vcluster creates some mid-run).
fn clusters_of(json: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = json["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    let events = json["events"].as_array().unwrap().iter().chain(
        json["sections"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["events"].as_array().unwrap().iter()),
    );
    for e in events {
        if let Some(c) = e["cluster"].as_str() {
            if !names.iter().any(|n| n == c) {
                names.push(c.to_string());
            }
        }
    }
    names
}

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

/// Rehearses a bundled runbook with an HTML and a JSON report.
fn rehearse(name: &str) -> (Output, String, serde_json::Value) {
    let mut t = Test::new().args(&[
        "run", name, "--sim", "--report", "r.html", "--report", "r.json",
    ]);
    for (var, value) in SECRETS {
        t = t.env(var, value);
    }
    let out = t.run().status(0);
    let html = out.file("r.html");
    let json = out.json("r.json");
    (out, html, json)
}

/// The page of a bundled rehearsal: its size, lanes and bars, and the same in a browser.
fn check_rehearsal(name: &str) -> (Output, String) {
    let (out, html, json) = rehearse(name);
    assert!(
        html.len() < MAX_BYTES,
        "the page of {name} is {} bytes",
        html.len()
    );
    for (var, value) in SECRETS {
        assert!(!html.contains(value), "the page of {name} shows {var}");
    }
    let lanes = clusters_of(&json);
    let sections = json["sections"].as_array().unwrap().len();
    assert!(sections > 0);
    assert_eq!(
        count(&html, "class=\"row lane\""),
        lanes.len(),
        "{name}: one lane per cluster"
    );
    assert_eq!(
        count(&html, "class=\"shape bar section "),
        sections,
        "{name}: one bar per section"
    );
    for lane in &lanes {
        assert!(
            html.contains(&format!("class=\"row lane\" data-cluster=\"{lane}\"")),
            "{name}: no lane for {lane}"
        );
    }
    if let Some(b) = Browser::or_skip(name) {
        let r = b.open(&out.dir.path().join("r.html"), "").clean(name);
        assert_eq!(count(&r.dom, "class=\"row lane\""), lanes.len(), "{name}");
        assert_eq!(
            count(&r.dom, "class=\"shape bar section "),
            sections,
            "{name}"
        );
    }
    (out, html)
}

#[test]
fn global_mesh_report_has_two_lanes_and_its_failover_chart() {
    let (out, html) = check_rehearsal("global-mesh");
    // The failover checks all go to the ingress's product page: one chart of five columns
    // (before, during and after the failover), whatever their status.
    let card_at = html.find("<div class=\"card\"").expect("a traffic chart");
    let card = &html[card_at..];
    let card = &card[..card.find("</table>").unwrap()];
    assert!(card.contains("/productpage</code>"), "{card}");
    assert_eq!(count(card, "<a href=\"#t-"), 5, "{card}");
    for section in ["Configure Ingress", "Failover", "Restore"] {
        assert!(card.contains(section), "no {section} in the chart");
    }
    // Offline the checks are skipped (empty columns); once the simulated data plane answers
    // them, the failover must show both clusters.
    let answered = card.contains("class=\"cell");
    assert!(
        answered || count(card, "class=\"column skipped empty\"") == 5,
        "{card}"
    );
    if answered {
        assert!(card.contains("data-clusters=\"2\""), "{card}");
    }
    if let Some(b) = Browser::find() {
        // Clicking a step's bar in cluster2's lane shows that step's events on cluster2.
        let page = out.dir.path().join("r.html");
        let clicked = out.dir.path().join("clicked.html");
        let click = "<script>document.querySelector('.bar.step[data-cluster=\"cluster2\"]')\
                .dispatchEvent(new MouseEvent('click', {bubbles: true}));</script></body>";
        std::fs::write(&clicked, html.replace("</body>", click)).unwrap();
        let r = b.open(&clicked, "").clean("a click on the timeline");
        let inspector = &r.dom[r.dom.find("id=\"inspector\"").unwrap()..];
        let inspector = &inspector[..inspector.find("</aside>").unwrap()];
        assert!(inspector.contains("Set cluster contexts › "), "{inspector}");
        assert!(inspector.contains("· on cluster2"), "{inspector}");
        assert!(
            inspector.contains("data-cluster=\"cluster2\""),
            "{inspector}"
        );
        assert!(
            !inspector.contains("data-cluster=\"cluster1\""),
            "{inspector}"
        );
        b.screenshot(&page, &screenshot_path("global-mesh"), 1700);
    }
}

#[test]
fn gloo_mesh_multicluster_report_renders() {
    check_rehearsal("gloo-mesh-multicluster");
}

#[test]
fn ambient_multicluster_workshop_report_renders() {
    check_rehearsal("ambient-multicluster-workshop");
}

#[test]
fn virtual_destinations_gloo_gateway_report_renders() {
    check_rehearsal("virtual-destinations-gloo-gateway");
}

#[test]
fn vcluster_gloo_mesh_report_renders() {
    check_rehearsal("vcluster-gloo-mesh");
}

/// A product page that names the cluster that served it: `cluster1` until `/flip`, then
/// `cluster2` (after one 503 while failing over), and back at the next `/flip`.
fn failover_server() -> SocketAddr {
    use axum::extract::State;
    use axum::http::StatusCode;
    use axum::routing::get;

    #[derive(Clone, Default)]
    struct Mesh {
        flips: Arc<AtomicUsize>,
        since_flip: Arc<AtomicUsize>,
    }
    async fn page(State(m): State<Mesh>) -> (StatusCode, String) {
        let n = m.since_flip.fetch_add(1, Ordering::SeqCst);
        let flips = m.flips.load(Ordering::SeqCst);
        if flips > 0 && n == 0 {
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                "no healthy upstream".into(),
            );
        }
        let cluster = if flips % 2 == 0 {
            "cluster1"
        } else {
            "cluster2"
        };
        (
            StatusCode::OK,
            format!("<title>Simple Bookstore App</title><dd>Reviews served by: reviews-v1 {cluster}</dd>"),
        )
    }
    async fn flip(State(m): State<Mesh>) -> &'static str {
        m.flips.fetch_add(1, Ordering::SeqCst);
        m.since_flip.store(0, Ordering::SeqCst);
        "flipped"
    }
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let router = axum::Router::new()
                .route("/productpage", get(page))
                .route("/flip", get(flip))
                .with_state(Mesh::default());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, router).await.unwrap();
        });
    });
    rx.recv().expect("the server's address")
}

#[test]
fn a_failover_reads_as_two_clusters_in_the_traffic_chart() {
    let addr = failover_server();
    let runbook = format!(
        r#"//! title: Failover
//! clusters:
//!   cluster1: CLUSTER1
//!   cluster2: CLUSTER2
let url = "http://{addr}/productpage";
let c1 = cluster("cluster1");
let c2 = cluster("cluster2");
section("Deploy", || {{
    step("Namespaces", || {{ for c in [c1, c2] {{ c.create_namespace("demo"); }} }});
}});
section("Before", || {{
    expect_http(url, #{{ status: 200, contains: "cluster1", consecutive: 2 }});
    sample(url, 10, #{{ key: "/reviews-(v\\d)/" }});
}});
section("Failover", || {{
    step("Scale down cluster1", || {{
        c1.label("namespace", "demo", "", #{{ failover: "yes" }});
        curl("http://{addr}/flip");
    }});
    step("Served by cluster2", || {{
        expect_http(url, #{{ status: 200, contains: "cluster2", consecutive: 2 }});
    }});
}});
section("Restore", || {{
    curl("http://{addr}/flip");
    expect_http(url, #{{ status: 200, contains: "cluster1", consecutive: 2 }});
}});
"#
    );
    let out = Test::runbook(&runbook)
        .args(&["--report", "r.html", "--report", "r.json"])
        .run()
        .status(0);
    // The events carry what the chart draws: attempts and the cluster that served each.
    let json = out.json("r.json");
    let traffic: Vec<&serde_json::Value> = json["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["events"].as_array().unwrap())
        .filter(|e| e["type"] == "traffic")
        .collect();
    assert_eq!(traffic.len(), 4, "{traffic:?}");
    let served: Vec<&str> = traffic[2]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["served_by"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(served, ["-", "cluster2", "cluster2"], "{}", traffic[2]);
    assert_eq!(traffic[2]["attempts"][0]["key"], "503");
    assert_eq!(traffic[2]["attempts"][0]["held"], false);
    assert_eq!(traffic[1]["counts"][0]["served_by"], "cluster1");
    assert_eq!(traffic[1]["counts"][0]["key"], "v1");
    assert_eq!(traffic[1]["counts"][0]["count"], 10);

    let html = out.file("r.html");
    let card = &html[html.find("<div class=\"card\"").expect("a chart")..];
    assert!(card.contains("data-clusters=\"2\""), "{card}");
    assert!(card.contains("served by cluster1") && card.contains("served by cluster2"));
    assert_eq!(count(card, "<a href=\"#t-"), 4);
    // The 503 of each switch (failover and restore) is marked.
    assert_eq!(count(card, "class=\"cell unmet\""), 2);
    if let Some(b) = Browser::or_skip("the failover report") {
        let page = out.dir.path().join("r.html");
        b.open(&page, "").clean("the failover report");
        b.screenshot(&page, &screenshot_path("failover"), 1500);
    }
}

#[test]
fn a_failed_run_shows_its_failure_first() {
    let out = Test::runbook(
        "//! clusters:\n//!   c1: C1\nlet c = cluster(\"c1\");\nsection(\"one\", || { c.create_namespace(\"a\"); });\nsection(\"two\", || {\n  step(\"ready\", || { c.create_namespace(\"b\"); });\n  step(\"check\", || { expect(1 == 2, \"numbers agree\"); });\n});\nsection(\"three\", || { say(\"never\"); });\n",
    )
    .args(&["--report", "r.html"])
    .run()
    .status(1);
    let html = out.file("r.html");
    let main = &html[html.find("<main>").unwrap()..];
    assert!(
        main.trim_start_matches("<main>")
            .trim_start()
            .starts_with("<section id=\"failure\""),
        "{}",
        &main[..300]
    );
    let failure = &main[..main.find("</section>").unwrap()];
    assert!(failure.contains(">two</a> › check"), "{failure}");
    assert!(failure.contains("numbers agree"), "{failure}");
    assert!(html.contains("exit 1 · a section failed"));
    assert!(html.contains("class=\"shape bar step failed"));
    assert!(html.contains("class=\"section not_run\""));
    if let Some(b) = Browser::or_skip("the failed run's report") {
        let r = b
            .open(&out.dir.path().join("r.html"), "")
            .clean("the failed run's report");
        // The failed step is selected and its events shown before anyone clicks.
        assert!(
            r.dom.contains("shape bar step failed depth0 selected"),
            "nothing selected"
        );
        let inspector = &r.dom[r.dom.find("id=\"inspector\"").unwrap()..];
        let inspector = &inspector[..inspector.find("</aside>").unwrap()];
        assert!(inspector.contains("two › check"), "{inspector}");
        assert!(inspector.contains("numbers agree"), "{inspector}");
        // The filter keeps the failed section only.
        let filtered = out.dir.path().join("filtered.html");
        let pick = "<script>document.getElementById('f-failed').click();\
            document.body.setAttribute('data-shown', Array.from(document.querySelectorAll('details.section'))\
            .filter(function (d) { return getComputedStyle(d).display !== 'none'; })\
            .map(function (d) { return d.getAttribute('data-title'); }).join('|'));</script></body>";
        std::fs::write(&filtered, html.replace("</body>", pick)).unwrap();
        let r = b.open(&filtered, "").clean("the filter");
        assert!(r.dom.contains("data-shown=\"two\""), "{}", &r.dom[..400]);
        // A link to a section shows its events too.
        let r = b
            .open(&out.dir.path().join("r.html"), "#sec-0")
            .clean("#sec-0");
        let inspector = &r.dom[r.dom.find("id=\"inspector\"").unwrap()..];
        assert!(inspector.contains("namespace/a"), "{inspector}");
    }
}

#[test]
fn secrets_are_masked_in_the_html_report() {
    let secret = "s3cr3t<&>\"value";
    let out = Test::runbook(
        "//! env:\n//!   TOKEN: { secret: true }\n//! params:\n//!   GREETING: hello\nlet t = secret_env(\"TOKEN\");\nsection(\"leak\", || {\n  say(\"token is \" + t);\n  expect(false, \"bad token \" + t);\n});\n",
    )
    .env("TOKEN", secret)
    .args(&["--report", "r.html", "--set", &format!("GREETING={secret}")])
    .run()
    .status(1)
    .nowhere(secret);
    let html = out.file("r.html");
    for form in ["s3cr3t&lt;&amp;&gt;", "s3cr3t<&>"] {
        assert!(!html.contains(form), "{form} leaked");
    }
    assert!(html.contains("token is ***"));
    assert!(html.contains("GREETING"));
}
