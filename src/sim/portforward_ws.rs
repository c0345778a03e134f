//! `kubectl port-forward` over WebSocket: SPDY/3.1 tunneled in WebSocket binary messages
//! (subprotocol `SPDY/3.1+portforward.k8s.io`), which kubectl 1.31+ tries first.
//!
//! How the real pieces fit (KEP-4006, "Transition from SPDY to WebSockets"):
//! - client-go `tools/portforward/tunneling_dialer.go` upgrades `GET .../pods/P/portforward`
//!   to a WebSocket offering `SPDY/3.1+portforward.k8s.io`, and wraps it as a `net.Conn`
//!   (`tunneling_connection.go`): the raw SPDY byte stream in binary messages whose
//!   boundaries mean nothing, no channel byte;
//! - on it, a SPDY/3.1 client connection (`moby/spdystream`): per forwarded TCP connection it
//!   opens an `error` stream and a `data` stream (SYN_STREAM, headers `streamType`, `port`,
//!   `requestID`), waits for each stream's SYN_REPLY, half-closes the error stream, copies the
//!   local connection into the data stream and back, and reads the error stream to its end
//!   (client-go `tools/portforward/portforward.go` `handleConnection`);
//! - the apiserver's `streamtunnel` handler unwraps the tunnel and the kubelet
//!   (`kubelet/cri/streaming/portforward/httpstream.go`) pairs the two streams by requestID,
//!   connects to the port inside the pod, and closes both streams when done.
//!
//! Here the "port inside the pod" is the simulated data plane: the data stream's bytes are
//! served as HTTP/1.1 (hyper over an in-memory pipe), each request answered as a request to
//! that pod's port ([`Origin::PodPort`]), exactly as the data plane answers `meshbook`'s own
//! port-forwards.
//!
//! SPDY/3 framing (draft-mbelshe-httpbis-spdy-00, section 2): 8-byte frame headers; header
//! blocks are one zlib stream per direction with the spec's preset dictionary. We inflate the
//! client's blocks with that dictionary and write ours as stored (uncompressed) deflate blocks,
//! which every inflater reads, so no dictionary-compressor is needed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use bytes::Bytes;
use flate2::{Decompress, FlushDecompress};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::cluster::Cluster;
use super::dataplane::{self, Models, Origin, Outcome, World};
use crate::problem::Problem;

/// The WebSocket subprotocol of tunneled SPDY port-forwarding (client-go
/// `constants.WebsocketsSPDYTunnelingPrefix` + `portforward.k8s.io`).
pub const PROTOCOL: &str = "SPDY/3.1+portforward.k8s.io";

const SYN_STREAM: u16 = 1;
const SYN_REPLY: u16 = 2;
const RST_STREAM: u16 = 3;
const PING: u16 = 6;
const GOAWAY: u16 = 7;
const HEADERS: u16 = 8;
const FLAG_FIN: u8 = 0x01;
/// RST_STREAM status PROTOCOL_ERROR.
const PROTOCOL_ERROR: u32 = 1;

/// The SPDY/3 header compression dictionary (draft-mbelshe-httpbis-spdy-00 section 2.6.10.1):
/// length-prefixed header names and values, then a tail of common value fragments.
fn dictionary() -> &'static [u8] {
    use std::sync::OnceLock;
    static DICT: OnceLock<Vec<u8>> = OnceLock::new();
    DICT.get_or_init(|| {
        let words = [
            "options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
            "accept-encoding", "accept-language", "accept-ranges", "age", "allow",
            "authorization", "cache-control", "connection", "content-base", "content-encoding",
            "content-language", "content-length", "content-location", "content-md5",
            "content-range", "content-type", "date", "etag", "expect", "expires", "from",
            "host", "if-match", "if-modified-since", "if-none-match", "if-range",
            "if-unmodified-since", "last-modified", "location", "max-forwards", "pragma",
            "proxy-authenticate", "proxy-authorization", "range", "referer", "retry-after",
            "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary",
            "via", "warning", "www-authenticate", "method", "get", "status", "200 OK",
            "version", "HTTP/1.1", "url", "public", "set-cookie", "keep-alive", "origin",
        ];
        let mut d = Vec::with_capacity(1424);
        for w in words {
            d.extend_from_slice(&u32::try_from(w.len()).unwrap_or(0).to_be_bytes());
            d.extend_from_slice(w.as_bytes());
        }
        d.extend_from_slice(
            concat!(
                "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
                "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request",
                "401 Unauthorized403 Forbidden404 Not Found500 Internal Server Error",
                "501 Not Implemented503 Service Unavailable",
                "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 ",
                "Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
                "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,",
                "text/plain,text/javascript,publicprivatemax-age=gzip,deflate,sdch",
                "charset=utf-8charset=iso-8859-1,utf-,*,enq=0."
            )
            .as_bytes(),
        );
        d
    })
}

fn control(ty: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&[0x80, 0x03]);
    f.extend_from_slice(&ty.to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(0).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

fn data(stream: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(8 + payload.len());
    f.extend_from_slice(&(stream & 0x7fff_ffff).to_be_bytes());
    f.push(flags);
    f.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(0).to_be_bytes()[1..]);
    f.extend_from_slice(payload);
    f
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// Header block codec of one connection: inflate (with the dictionary) what the client
/// sends, stored blocks for what we send.
struct Headers {
    inflate: Decompress,
    deflate_started: bool,
}

impl Headers {
    fn new() -> Self {
        Headers {
            inflate: Decompress::new(true),
            deflate_started: false,
        }
    }

    fn inflate(&mut self, input: &[u8]) -> Result<Vec<u8>, Problem> {
        let mut out = Vec::with_capacity(input.len() * 4 + 256);
        let mut pos = 0;
        loop {
            let (in0, out0) = (self.inflate.total_in(), self.inflate.total_out());
            if out.capacity() - out.len() < 1024 {
                out.reserve(4096);
            }
            let res = self
                .inflate
                .decompress_vec(&input[pos..], &mut out, FlushDecompress::Sync);
            let used = usize::try_from(self.inflate.total_in() - in0).unwrap_or(0);
            pos += used;
            match res {
                Ok(_) => {
                    let produced = self.inflate.total_out() - out0;
                    let full = out.len() == out.capacity();
                    if (pos >= input.len() && !full) || (used == 0 && produced == 0 && !full) {
                        return Ok(out);
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate
                        .set_dictionary(dictionary())
                        .map_err(|e| Problem::new(format!("SPDY header dictionary: {e}")))?;
                }
                Err(e) => return Err(Problem::new(format!("SPDY header block: {e}"))),
            }
        }
    }

    /// A header block as stored deflate blocks continuing this connection's zlib stream.
    fn deflate(&mut self, raw: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(raw.len() + 16);
        if !self.deflate_started {
            // zlib header: deflate, 32K window, no preset dictionary, fastest (0x7801 % 31 == 0)
            out.extend_from_slice(&[0x78, 0x01]);
            self.deflate_started = true;
        }
        for chunk in raw.chunks(0xffff) {
            let len = u16::try_from(chunk.len()).unwrap_or(0);
            out.push(0x00); // BFINAL 0, BTYPE 00 (stored), then byte-aligned
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&(!len).to_le_bytes());
            out.extend_from_slice(chunk);
        }
        // a sync flush (an empty stored block), as zlib's Z_SYNC_FLUSH ends each block: Go's
        // inflater hands out a stored block's bytes only when the next block header is read
        out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
        out
    }
}

/// `name -> value` of a decompressed SPDY/3 header block (names lower-case).
fn parse_headers(b: &[u8]) -> Option<HashMap<String, String>> {
    let mut h = HashMap::new();
    let n = be32(b.get(0..4)?);
    let mut pos = 4;
    for _ in 0..n {
        let nl = usize::try_from(be32(b.get(pos..pos + 4)?)).ok()?;
        let name = b.get(pos + 4..pos + 4 + nl)?;
        pos += 4 + nl;
        let vl = usize::try_from(be32(b.get(pos..pos + 4)?)).ok()?;
        let value = b.get(pos + 4..pos + 4 + vl)?;
        pos += 4 + vl;
        h.insert(
            String::from_utf8_lossy(name).to_ascii_lowercase(),
            String::from_utf8_lossy(value).into_owned(),
        );
    }
    Some(h)
}

/// One SPDY stream the client opened.
struct Stream {
    /// Bytes for the forwarded connection (data streams, once paired); dropped on FIN.
    to_app: Option<mpsc::UnboundedSender<Vec<u8>>>,
}

/// The two streams of one forwarded connection, by requestID.
#[derive(Default)]
struct Pair {
    error: Option<u32>,
    data: Option<u32>,
    port: u16,
    started: bool,
}

/// Serves one tunneled SPDY connection of `kubectl port-forward` to pod `ns/pod`.
pub async fn serve(socket: WebSocket, cluster: Arc<Cluster>, ns: String, pod: String) {
    let (mut sink, mut incoming) = socket.split();
    let (out, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let writer = tokio::spawn(async move {
        while let Some(frame) = out_rx.recv().await {
            if sink
                .send(Message::Binary(Bytes::from(frame)))
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = sink
            .send(Message::Close(Some(CloseFrame {
                code: 1000,
                reason: "".into(),
            })))
            .await;
    });
    let mut headers = Headers::new();
    let mut streams: HashMap<u32, Stream> = HashMap::new();
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    let mut forwarders = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    'conn: while let Some(Ok(msg)) = incoming.next().await {
        match msg {
            Message::Binary(b) => buf.extend_from_slice(&b),
            Message::Close(_) => break,
            _ => continue,
        }
        while buf.len() >= 8 {
            let len = usize::try_from(u32::from_be_bytes([0, buf[5], buf[6], buf[7]])).unwrap_or(0);
            if buf.len() < 8 + len {
                break;
            }
            let frame: Vec<u8> = buf.drain(..8 + len).collect();
            let flags = frame[4];
            let payload = &frame[8..];
            if frame[0] & 0x80 == 0 {
                let id = be32(&frame[0..4]) & 0x7fff_ffff;
                if let Some(s) = streams.get_mut(&id) {
                    if !payload.is_empty() {
                        if let Some(tx) = &s.to_app {
                            let _ = tx.send(payload.to_vec());
                        }
                    }
                    if flags & FLAG_FIN != 0 {
                        s.to_app = None;
                    }
                }
                continue;
            }
            let ty = u16::from_be_bytes([frame[2], frame[3]]);
            match ty {
                SYN_STREAM if payload.len() >= 10 => {
                    let id = be32(&payload[0..4]) & 0x7fff_ffff;
                    let block = match headers.inflate(&payload[10..]) {
                        Ok(b) => b,
                        Err(e) => {
                            tracing::debug!("port-forward to {ns}/{pod}: {e}");
                            break 'conn;
                        }
                    };
                    let h = parse_headers(&block).unwrap_or_default();
                    let kind = h.get("streamtype").cloned().unwrap_or_default();
                    let port = h.get("port").and_then(|p| p.parse::<u16>().ok());
                    let request = h
                        .get("requestid")
                        .cloned()
                        .unwrap_or_else(|| id.to_string());
                    let (Some(port), "error" | "data") = (port, kind.as_str()) else {
                        let mut p = id.to_be_bytes().to_vec();
                        p.extend_from_slice(&PROTOCOL_ERROR.to_be_bytes());
                        let _ = out.send(control(RST_STREAM, 0, &p));
                        continue;
                    };
                    // the reply (no headers) lets the client's CreateStream return
                    let mut reply = id.to_be_bytes().to_vec();
                    reply.extend(headers.deflate(&0u32.to_be_bytes()));
                    let _ = out.send(control(SYN_REPLY, 0, &reply));
                    streams.insert(id, Stream { to_app: None });
                    let pair = pairs.entry(request).or_default();
                    pair.port = port;
                    if kind == "error" {
                        pair.error = Some(id);
                    } else {
                        pair.data = Some(id);
                    }
                    if let (Some(e), Some(d), false) = (pair.error, pair.data, pair.started) {
                        pair.started = true;
                        let (tx, rx) = mpsc::unbounded_channel();
                        if let Some(s) = streams.get_mut(&d) {
                            s.to_app = Some(tx);
                        }
                        forwarders.push(tokio::spawn(forward(
                            cluster.clone(),
                            ns.clone(),
                            pod.clone(),
                            pair.port,
                            e,
                            d,
                            rx,
                            out.clone(),
                        )));
                    }
                }
                // keep the zlib stream in step; the headers themselves mean nothing here
                HEADERS if payload.len() >= 4 && headers.inflate(&payload[4..]).is_err() => {
                    break 'conn
                }
                RST_STREAM if payload.len() >= 4 => {
                    let id = be32(&payload[0..4]) & 0x7fff_ffff;
                    streams.remove(&id);
                }
                PING => {
                    let _ = out.send(frame.clone());
                }
                GOAWAY => break 'conn,
                _ => {}
            }
        }
    }
    for f in forwarders {
        f.abort();
    }
    drop(out);
    let _ = writer.await;
}

/// One forwarded connection: the data stream's bytes are an HTTP/1.1 connection to `port` of
/// the pod, answered by the data plane; both streams are closed when it ends.
#[allow(clippy::too_many_arguments)]
async fn forward(
    cluster: Arc<Cluster>,
    ns: String,
    pod: String,
    port: u16,
    error_stream: u32,
    data_stream: u32,
    mut from_client: mpsc::UnboundedReceiver<Vec<u8>>,
    out: mpsc::UnboundedSender<Vec<u8>>,
) {
    let (ours, theirs) = tokio::io::duplex(64 * 1024);
    let service = hyper::service::service_fn(move |req| {
        let (c, ns, pod) = (cluster.clone(), ns.clone(), pod.clone());
        async move { Ok::<_, Infallible>(answer(&c, &ns, &pod, port, req).await) }
    });
    let server = tokio::spawn(async move {
        let _ = hyper::server::conn::http1::Builder::new()
            .serve_connection(hyper_util::rt::TokioIo::new(theirs), service)
            .await;
    });
    let (mut rd, mut wr) = tokio::io::split(ours);
    let inbound = tokio::spawn(async move {
        while let Some(bytes) = from_client.recv().await {
            if wr.write_all(&bytes).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let mut chunk = vec![0u8; 32 * 1024];
    loop {
        match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if out.send(data(data_stream, 0, &chunk[..n])).is_err() {
                    break;
                }
            }
        }
    }
    inbound.abort();
    server.abort();
    let _ = out.send(data(data_stream, FLAG_FIN, &[]));
    let _ = out.send(data(error_stream, FLAG_FIN, &[]));
}

/// The data plane's answer to one HTTP request arriving at the pod's port.
async fn answer(
    c: &Arc<Cluster>,
    ns: &str,
    pod: &str,
    port: u16,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<http_body_util::Full<Bytes>> {
    use http_body_util::BodyExt;
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let plain = |status: u16, text: String| {
        hyper::Response::builder()
            .status(status)
            .header("content-type", "text/plain; charset=utf-8")
            .header("x-meshbook-simulated", "true")
            .body(http_body_util::Full::new(Bytes::from(text)))
            .unwrap_or_default()
    };
    let mut request = match dataplane::Request::new(
        parts.method.as_str(),
        &format!("http://localhost:{port}{path}"),
    ) {
        Ok(r) => r,
        Err(e) => return plain(400, format!("{e}\n")),
    };
    for (k, v) in &parts.headers {
        let name = k.as_str().to_ascii_lowercase();
        let value = String::from_utf8_lossy(v.as_bytes()).into_owned();
        // the local address kubectl listens on, not a name the pod knows
        if name == "host" && (value.starts_with("127.0.0.1") || value.starts_with("localhost")) {
            continue;
        }
        request.headers.push((name, value));
    }
    if let Ok(b) = body.collect().await {
        let b = b.to_bytes();
        if !b.is_empty() {
            request.body = Some(String::from_utf8_lossy(&b).into_owned());
        }
    }
    let mut clusters = vec![c.clone()];
    clusters.extend(c.peers());
    let world = World::of_clusters(&clusters);
    let origin = Origin::PodPort {
        cluster: c.name.clone(),
        namespace: ns.to_string(),
        pod: pod.to_string(),
        port,
    };
    let a = dataplane::answer(&world, Models::bundled(), &c.balancer, &origin, &request);
    match a.outcome {
        Outcome::Reply(r) => {
            let mut b = hyper::Response::builder().status(r.status);
            for (k, v) in &r.headers {
                b = b.header(k.as_str(), v.as_str());
            }
            b.header("x-meshbook-simulated", "true")
                .body(http_body_util::Full::new(Bytes::from(r.body)))
                .unwrap_or_else(|_| plain(500, "bad simulated response\n".into()))
        }
        Outcome::Failed { message, .. } => plain(
            502,
            format!("simulated data plane: the request to pod {ns}/{pod} port {port} failed: {message}\n"),
        ),
        Outcome::Unmodelled(why) => plain(501, format!("simulated data plane: cannot answer: {why}\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_the_specs() {
        let d = dictionary();
        assert_eq!(d.len(), 1423);
        assert!(d.starts_with(b"\x00\x00\x00\x07options\x00\x00\x00\x04head"));
        assert!(d.ends_with(b",enq=0."));
    }

    #[test]
    fn header_blocks_round_trip_through_zlib() {
        // what a Go client writes: zlib with the dictionary, sync-flushed per block
        let mut z = flate2::Compress::new(flate2::Compression::default(), true);
        z.set_dictionary(dictionary()).unwrap();
        let mut raw = 2u32.to_be_bytes().to_vec();
        for (k, v) in [("streamtype", "data"), ("port", "9080")] {
            raw.extend_from_slice(&u32::try_from(k.len()).unwrap().to_be_bytes());
            raw.extend_from_slice(k.as_bytes());
            raw.extend_from_slice(&u32::try_from(v.len()).unwrap().to_be_bytes());
            raw.extend_from_slice(v.as_bytes());
        }
        let mut block = Vec::with_capacity(256);
        z.compress_vec(&raw, &mut block, flate2::FlushCompress::Sync)
            .unwrap();
        let mut h = Headers::new();
        let h1 = parse_headers(&h.inflate(&block).unwrap()).unwrap();
        assert_eq!(h1["streamtype"], "data");
        assert_eq!(h1["port"], "9080");
        // and our stored blocks inflate with any zlib reader
        let ours = [h.deflate(&raw), h.deflate(&0u32.to_be_bytes())].concat();
        let mut d = Decompress::new(true);
        let mut out = Vec::with_capacity(256);
        d.decompress_vec(&ours, &mut out, FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, [raw, vec![0, 0, 0, 0]].concat());
        assert!(ours.ends_with(&[0, 0, 0, 0xff, 0xff]));
    }
}
