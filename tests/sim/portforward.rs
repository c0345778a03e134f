//! `kubectl port-forward` (1.32: SPDY tunneled over WebSocket) against a socket-served
//! simulated cluster: a plain HTTP client gets Bookinfo's answers from the data plane.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

use super::kubectl::{Kubectl, ServedCluster};
use super::*;

/// A running `kubectl port-forward` (killed on drop) and the local port it listens on.
struct Forward {
    child: Child,
    port: u16,
}

impl Forward {
    /// What kubectl said on stderr (after stopping it), for a failure's message.
    fn stderr(&mut self) -> String {
        let _ = self.child.kill();
        let mut err = String::new();
        if let Some(e) = self.child.stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut err);
        }
        err
    }
}

impl Drop for Forward {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port_forward(k: &Kubectl<'_>, args: &[&str]) -> Forward {
    let (kubeconfig, cache) = (k.kubeconfig, k.cache);
    let mut child = Command::new("kubectl")
        .arg("port-forward")
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", cache)
        .env("KUBECONFIG", kubeconfig)
        .env("KUBECACHEDIR", cache)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl runs");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    // keep reading: kubectl writes a line per connection and dies on a closed pipe
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    // "Forwarding from 127.0.0.1:PORT -> 9080"
    let port = line
        .split_whitespace()
        .nth(2)
        .and_then(|a| a.rsplit(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("kubectl port-forward did not start: {line:?} {err}")
        });
    Forward { child, port }
}

#[test]
fn kubectl_port_forward_reaches_the_simulated_data_plane() {
    let Some(served) = ServedCluster::start() else {
        return;
    };
    let (rt, k) = (&served.rt, served.kubectl());
    let bookinfo = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/stdlib/sim/manifests/istio/bookinfo.yaml"
    );
    k.ok(&["create", "namespace", "bookinfo"]);
    k.ok(&["apply", "-n", "bookinfo", "-f", bookinfo]);
    k.ok(&[
        "-n",
        "bookinfo",
        "rollout",
        "status",
        "deployment/productpage-v1",
        "--timeout=30s",
    ]);
    let pod = k.ok(&[
        "-n",
        "bookinfo",
        "get",
        "pods",
        "-l",
        "app=productpage",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);

    let client = reqwest::Client::new();
    let get = |pf: &mut Forward, path: &str| {
        let url = format!("http://127.0.0.1:{}{path}", pf.port);
        let client = client.clone();
        let got = rt.block_on(async move {
            let r = client.get(&url).send().await?;
            let status = r.status().as_u16();
            Ok::<_, reqwest::Error>((status, r.text().await?))
        });
        got.unwrap_or_else(|e| {
            panic!(
                "no answer through the port-forward: {e}\nkubectl: {}",
                pf.stderr()
            )
        })
    };
    // a pod: several requests on one kept-alive connection, then on new ones
    let mut pf = port_forward(&k, &["-n", "bookinfo", &format!("pod/{pod}"), ":9080"]);
    let (status, body) = get(&mut pf, "/productpage");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Simple Bookstore App"), "{body}");
    assert!(
        body.contains("Book Details") || body.contains("The Comedy of Errors"),
        "{body}"
    );
    let (status, _) = get(&mut pf, "/productpage");
    assert_eq!(status, 200);
    let (status, _) = get(&mut pf, "/no-such-page");
    assert_eq!(status, 404);
    drop(pf);
    // a Service: kubectl picks a pod behind it and the targetPort
    let mut pf = port_forward(&k, &["-n", "bookinfo", "svc/productpage", ":9080"]);
    let (status, body) = get(&mut pf, "/productpage");
    assert_eq!(status, 200, "{body}");
    // a plain HTTP/1.0 client over a raw socket, as curl or a browser would send
    let port = pf.port;
    let raw = rt.block_on(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        s.write_all(b"GET /productpage HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    });
    assert!(raw.starts_with("HTTP/1.0 200 OK"), "{raw}");
    assert!(raw.contains("Simple Bookstore App"));
}
