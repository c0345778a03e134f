//! The HTTP front of a simulated cluster: routes Kubernetes REST paths to the store.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Value};

use super::cluster::{scale_of, Cluster, PatchKind, WriteOpts};
use super::discovery;
use super::openapi;
use super::resources::ResourceDef;
use super::selector::{FieldSelector, LabelSelector};
use super::status::{success, ApiError};
use super::table::table;
use super::validation::{FieldValidation, Warnings};
use super::watch::{watch, WatchRequest};

/// The router serving one cluster.
pub fn router(cluster: Arc<Cluster>) -> Router {
    Router::new().fallback(handle).with_state(cluster)
}

fn json_response(code: u16, v: &Value) -> Response {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(v).unwrap_or_default()))
        .unwrap_or_default()
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.code, &self.to_status())
    }
}

/// The query string as pairs (`+` and percent escapes decoded as application/x-www-form-urlencoded).
fn parse_query(q: Option<&str>) -> HashMap<String, String> {
    form_urlencoded::parse(q.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A parsed resource path.
struct Target {
    def: ResourceDef,
    version: String,
    ns: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn wants_protobuf(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("protobuf") && !a.contains("json"))
}

fn wants_table(headers: &HeaderMap) -> bool {
    headers
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("as=Table"))
}

async fn handle(State(c): State<Arc<Cluster>>, req: Request) -> Response {
    let latency = c.faults.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let upgrade = req.headers().contains_key("upgrade");
    if !upgrade {
        let watch = req
            .uri()
            .query()
            .is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
        if let Some(f) = c.faults.draw(watch) {
            tracing::debug!("simulated fault {f:?} for {} {}", req.method(), req.uri());
            return super::faults::respond(f);
        }
    }
    let warnings = Warnings::default();
    let mut resp = match route(c, req, warnings.clone()).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    for w in warnings.take() {
        let text = format!("299 - {:?}", w);
        if let Ok(v) = axum::http::HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

fn not_found_path() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

async fn route(c: Arc<Cluster>, req: Request, warnings: Warnings) -> Result<Response, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    if let Some(answer) = fixed_path(&c, &path, req.headers()) {
        return answer;
    }
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if let ["openapi", "v3", rest @ ..] = segs.as_slice() {
        return openapi_v3(&c, rest);
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g] => {
            return discovery::group(&c, g)
                .map(|v| json_response(200, &v))
                .ok_or_else(not_found_path)
        }
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found_path()),
    };
    if rest.is_empty() {
        return discovery::resource_list(&c, group, version)
            .map(|v| json_response(200, &v))
            .ok_or_else(not_found_path);
    }
    let t = target(&c, group, version, rest, req.method())?;
    if let Some(s) = t.sub.as_deref() {
        if matches!(s, "exec" | "attach" | "portforward") {
            let (mut parts, _body) = req.into_parts();
            let ws = axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &())
                .await
                .map_err(|_| ApiError::bad_request("pod exec, attach and port-forward need a WebSocket upgrade (v5.channel.k8s.io or v4.channel.k8s.io)"))?;
            return super::pods::stream(
                &c,
                &t.def,
                t.ns.as_deref().unwrap_or(""),
                t.name.as_deref().unwrap_or(""),
                s,
                &parts.uri,
                ws,
            );
        }
    }
    let query = parse_query(req.uri().query());
    let method = req.method().clone();
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), 64 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("unable to read the request body: {e}")))?;
    let r = Call::new(c, t, query, headers, body, warnings)?;
    match (method, r.t.name.clone(), r.t.sub.as_deref()) {
        (Method::GET, None, _) => r.list_or_watch(),
        (Method::GET, Some(name), sub) => r.get_one(&name, sub),
        // reviews and token requests are answered from their kind alone
        (Method::POST, None, None) if r.t.def.is_review() => r.review(),
        (Method::POST, Some(name), Some("token")) => r.token(&name),
        (Method::POST, None, None) => r.create(),
        (Method::POST, Some(name), Some("eviction")) => r.evict(&name),
        (Method::PUT, Some(name), sub) => r.replace(&name, sub),
        (Method::PATCH, Some(name), sub) => r.patch(&name, sub),
        (Method::DELETE, Some(name), None) => r.delete_one(&name),
        (Method::DELETE, None, None) => r.delete_collection(),
        (m, _, _) => Err(ApiError::method_not_allowed(format!(
            "the server does not allow this method on the requested resource ({m} {path})"
        ))),
    }
}

/// Paths outside the resource tree: version, discovery roots, health, OpenAPI v2 and the
/// v3 index.
fn fixed_path(c: &Cluster, path: &str, headers: &HeaderMap) -> Option<Result<Response, ApiError>> {
    Some(Ok(match path {
        "/version" => json_response(200, &discovery::version()),
        "/api" => json_response(200, &discovery::core_versions()),
        "/apis" => json_response(200, &discovery::group_list(c)),
        "/healthz" | "/livez" | "/readyz" => (StatusCode::OK, "ok").into_response(),
        "/openapi/v3" => json_response(200, &openapi::v3_index(c)),
        "/openapi/v2" if !wants_protobuf(headers) => json_response(200, &openapi::v2_document(c)),
        "/openapi/v2" => Response::builder()
            .status(200)
            .header(
                "content-type",
                "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
            )
            .body(Body::empty())
            .unwrap_or_default(),
        _ => return None,
    }))
}

/// `/openapi/v3/api/v1`, `/openapi/v3/apis/GROUP/VERSION`.
fn openapi_v3(c: &Cluster, rest: &[&str]) -> Result<Response, ApiError> {
    let doc = match rest {
        ["api", v] => openapi::v3_document(c, "", v),
        ["apis", g, v] => openapi::v3_document(c, g, v),
        _ => None,
    };
    doc.map(|d| json_response(200, &d))
        .ok_or_else(not_found_path)
}

/// The resource, namespace, name and subresource a path below a group-version names.
fn target(
    c: &Cluster,
    group: &str,
    version: &str,
    rest: &[&str],
    method: &Method,
) -> Result<Target, ApiError> {
    let (ns, plural, name, sub) = match rest {
        ["namespaces", n] => (None, "namespaces", Some(*n), None),
        ["namespaces", n, s @ ("status" | "finalize")] => (None, "namespaces", Some(*n), Some(*s)),
        ["namespaces", ns, plural, rest @ ..] if rest.len() <= 2 => (
            Some(*ns),
            *plural,
            rest.first().copied(),
            rest.get(1).copied(),
        ),
        [plural, rest @ ..] if rest.len() <= 2 => {
            (None, *plural, rest.first().copied(), rest.get(1).copied())
        }
        _ => return Err(not_found_path()),
    };
    let def = c
        .registry()
        .find(group, version, plural)
        .ok_or_else(not_found_path)?;
    if def.namespaced != ns.is_some()
        && !(def.namespaced && name.is_none() && *method == Method::GET)
    {
        return Err(not_found_path());
    }
    if let Some(s) = sub {
        let allowed = match s {
            "status" => def.status,
            "scale" => def.scale,
            "finalize" => def.plural == "namespaces",
            "token" => def.plural == "serviceaccounts" && def.group.is_empty(),
            "log" | "exec" | "attach" | "portforward" | "eviction" => {
                def.plural == "pods" && def.group.is_empty()
            }
            _ => false,
        };
        if !allowed {
            return Err(not_found_path());
        }
    }
    Ok(Target {
        def,
        version: version.to_string(),
        ns: ns.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
    })
}

/// One request on a resource, its body read: what every verb's handler needs.
struct Call {
    c: Arc<Cluster>,
    t: Target,
    query: HashMap<String, String>,
    headers: HeaderMap,
    body: bytes::Bytes,
    is_protobuf: bool,
    opts: WriteOpts,
}

impl Call {
    fn new(
        c: Arc<Cluster>,
        t: Target,
        query: HashMap<String, String>,
        headers: HeaderMap,
        body: bytes::Bytes,
        warnings: Warnings,
    ) -> Result<Self, ApiError> {
        let ct = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let is_protobuf = ct.contains("vnd.kubernetes.protobuf");
        if ct.contains("cbor") {
            return Err(ApiError::unsupported_media(format!(
                "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/apply-patch+yaml, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json (got {ct})"
            )));
        }
        let user_agent = headers
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("unknown");
        let manager = query.get("fieldManager").cloned().unwrap_or_else(|| {
            user_agent
                .split('/')
                .next()
                .unwrap_or("unknown")
                .to_string()
        });
        let opts = WriteOpts {
            dry_run: query.get("dryRun").is_some_and(|v| v == "All"),
            manager,
            force: query.get("force").is_some_and(|v| v == "true"),
            validation: FieldValidation::parse(query.get("fieldValidation").map(String::as_str))?,
            warnings,
            controller: false,
        };
        Ok(Call {
            c,
            t,
            query,
            headers,
            body,
            is_protobuf,
            opts,
        })
    }

    fn ns(&self) -> &str {
        self.t.ns.as_deref().unwrap_or_default()
    }

    /// An object as served at the request's version.
    fn present(&self, mut o: Value) -> Value {
        if o["kind"] == self.t.def.kind {
            o["apiVersion"] = json!(self.t.def.api_version(&self.t.version));
        }
        o
    }

    fn parse_body(&self) -> Result<Value, ApiError> {
        if self.is_protobuf {
            let (obj, unknown) = super::protobuf::decode(&self.body)?;
            if !unknown.is_empty() {
                tracing::debug!("protobuf fields skipped: {unknown:?}");
            }
            return Ok(obj);
        }
        serde_json::from_slice(&self.body)
            .or_else(|_| serde_yaml::from_slice::<Value>(&self.body))
            .map_err(|e| {
                ApiError::bad_request(format!("the request body is not valid JSON or YAML: {e}"))
            })
    }

    fn selectors(&self) -> Result<(LabelSelector, FieldSelector), ApiError> {
        let q = |k: &str| self.query.get(k).map_or("", String::as_str);
        Ok((
            LabelSelector::parse(q("labelSelector"))?,
            FieldSelector::parse(q("fieldSelector"))?,
        ))
    }

    /// GET on a collection: a list (paged, or as a Table) or a watch.
    fn list_or_watch(&self) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors()?;
        let q = &self.query;
        if q.get("watch").is_some_and(|w| w == "true" || w == "1") {
            return Ok(watch(
                &self.c,
                WatchRequest {
                    def: self.t.def.clone(),
                    version: self.t.version.clone(),
                    namespace: self.t.ns.clone(),
                    labels,
                    fields,
                    resource_version: q.get("resourceVersion").cloned(),
                    timeout: q
                        .get("timeoutSeconds")
                        .and_then(|s| s.parse().ok())
                        .map(Duration::from_secs),
                    send_initial_events: q.get("sendInitialEvents").is_some_and(|v| v == "true"),
                    as_table: wants_table(&self.headers),
                    bookmarks: q.get("allowWatchBookmarks").is_some_and(|v| v == "true"),
                },
            ));
        }
        let (items, rv) = self.c.store.list(&self.t.def.key(), self.t.ns.as_deref());
        let items: Vec<Value> = items
            .into_iter()
            .filter(|o| labels.matches(o) && fields.matches(o))
            .collect();
        let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok());
        let (items, next, remaining) =
            paginate(items, limit, q.get("continue").map(String::as_str), rv)?;
        let items: Vec<Value> = items.into_iter().map(|o| self.present(o)).collect();
        let mut meta = json!({"resourceVersion": rv.to_string()});
        if let Some(token) = next {
            meta["continue"] = json!(token);
            meta["remainingItemCount"] = json!(remaining);
        }
        if wants_table(&self.headers) {
            let mut tbl = table(&self.t.def, &items, &rv.to_string());
            tbl["metadata"] = meta;
            return Ok(json_response(200, &tbl));
        }
        Ok(json_response(
            200,
            &json!({"apiVersion": self.t.def.api_version(&self.t.version),
            "kind": format!("{}List", self.t.def.kind), "metadata": meta,
            "items": items}),
        ))
    }

    /// GET of one object, its scale or its log.
    fn get_one(&self, name: &str, sub: Option<&str>) -> Result<Response, ApiError> {
        let obj = self
            .c
            .store
            .get(&self.t.def.key(), self.ns(), name)
            .ok_or_else(|| ApiError::not_found(&self.t.def.key(), name))?;
        match sub {
            Some("scale") => Ok(json_response(200, &scale_of(&self.t.def, &obj))),
            Some("log") => Ok(super::pods::log(&obj, &self.query)),
            _ => {
                let obj = self.present(obj);
                if wants_table(&self.headers) {
                    let rv = obj["metadata"]["resourceVersion"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    return Ok(json_response(200, &table(&self.t.def, &[obj], &rv)));
                }
                Ok(json_response(200, &obj))
            }
        }
    }

    fn review(&self) -> Result<Response, ApiError> {
        let body = if self.is_protobuf {
            json!({})
        } else {
            self.parse_body()?
        };
        Ok(json_response(201, &review(&self.t.def, body)))
    }

    /// POST serviceaccounts/NAME/token.
    fn token(&self, name: &str) -> Result<Response, ApiError> {
        let ns = self.ns();
        self.c
            .store
            .get(&self.t.def.key(), ns, name)
            .ok_or_else(|| ApiError::not_found(&self.t.def.key(), name))?;
        let mut req = if self.is_protobuf {
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})
        } else {
            self.parse_body()?
        };
        let expires = chrono::Utc::now() + chrono::Duration::hours(1);
        req["status"] = json!({"token": format!("meshbook-simulated-token-for-{ns}-{name}"),
            "expirationTimestamp": expires.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)});
        Ok(json_response(201, &req))
    }

    fn create(&self) -> Result<Response, ApiError> {
        let obj = self
            .c
            .create(&self.t.def, self.ns(), self.parse_body()?, &self.opts)?;
        Ok(json_response(201, &self.present(obj)))
    }

    /// POST pods/NAME/eviction.
    fn evict(&self, name: &str) -> Result<Response, ApiError> {
        self.c.delete(&self.t.def, self.ns(), name, &self.opts)?;
        Ok(json_response(
            201,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ))
    }

    fn replace(&self, name: &str, sub: Option<&str>) -> Result<Response, ApiError> {
        let obj = self.c.replace(
            &self.t.def,
            self.ns(),
            name,
            sub,
            self.parse_body()?,
            &self.opts,
        )?;
        Ok(json_response(
            200,
            &self.present(scale_if(&self.t.def, sub, obj)),
        ))
    }

    fn patch(&self, name: &str, sub: Option<&str>) -> Result<Response, ApiError> {
        let ct = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let kind = PatchKind::from_content_type(ct).ok_or_else(|| {
            ApiError::unsupported_media(format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (got {ct:?})"))
        })?;
        if kind == PatchKind::Apply && !self.query.contains_key("fieldManager") {
            return Err(ApiError::bad_request("PATCH /apply requires fieldManager"));
        }
        let existed = self
            .c
            .store
            .get(&self.t.def.key(), self.ns(), name)
            .is_some();
        let obj = self.c.patch(
            &self.t.def,
            self.ns(),
            name,
            sub,
            kind,
            self.parse_body()?,
            &self.opts,
        )?;
        let created = !existed && !self.opts.dry_run;
        Ok(json_response(
            if created { 201 } else { 200 },
            &self.present(scale_if(&self.t.def, sub, obj)),
        ))
    }

    /// DELETE of one object: DeleteOptions (propagationPolicy, preconditions) honoured.
    fn delete_one(&self, name: &str) -> Result<Response, ApiError> {
        let def = &self.t.def;
        let options = if self.body.is_empty() {
            json!({})
        } else {
            self.parse_body().unwrap_or_else(|_| json!({}))
        };
        let policy = self
            .query
            .get("propagationPolicy")
            .cloned()
            .or_else(|| options["propagationPolicy"].as_str().map(String::from))
            .or_else(|| (options["orphanDependents"] == json!(true)).then(|| "Orphan".into()));
        let current = self
            .c
            .store
            .get(&def.key(), self.ns(), name)
            .ok_or_else(|| ApiError::not_found(&def.key(), name))?;
        check_preconditions(def, name, &current, &options["preconditions"])?;
        match policy.as_deref() {
            None | Some("Orphan" | "Background" | "Foreground") => {}
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy: Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\""
                )))
            }
        }
        if policy.as_deref() == Some("Orphan") && !self.opts.dry_run {
            orphan_dependents(&self.c, &current);
        }
        let w = self.c.delete(def, self.ns(), name, &self.opts)?;
        if w.deleted {
            let uid = w.object["metadata"]["uid"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if def.custom || matches!(def.plural.as_str(), "pods" | "services" | "namespaces") {
                return Ok(json_response(200, &self.present(w.object)));
            }
            return Ok(json_response(200, &success(&def.key(), name, &uid)));
        }
        Ok(json_response(200, &self.present(w.object)))
    }

    /// DELETE on a collection (deletecollection), by label and field selector.
    fn delete_collection(&self) -> Result<Response, ApiError> {
        let (labels, fields) = self.selectors()?;
        let (items, rv) = self.c.store.list(&self.t.def.key(), self.t.ns.as_deref());
        let mut gone = Vec::new();
        for o in items
            .into_iter()
            .filter(|o| labels.matches(o) && fields.matches(o))
        {
            let name = o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            if let Ok(w) = self.c.delete(&self.t.def, self.ns(), &name, &self.opts) {
                gone.push(self.present(w.object));
            }
        }
        Ok(json_response(
            200,
            &json!({"apiVersion": self.t.def.api_version(&self.t.version),
            "kind": format!("{}List", self.t.def.kind), "metadata": {"resourceVersion": rv.to_string()}, "items": gone}),
        ))
    }
}

/// DeleteOptions `preconditions`: the uid and resourceVersion the caller expects.
fn check_preconditions(
    def: &ResourceDef,
    name: &str,
    current: &Value,
    pre: &Value,
) -> Result<(), ApiError> {
    for (field, meta) in [("uid", "UID"), ("resourceVersion", "ResourceVersion")] {
        if let Some(want) = pre[field].as_str().filter(|w| !w.is_empty()) {
            let have = current["metadata"][field].as_str().unwrap_or("");
            if want != have {
                return Err(ApiError::conflict(
                    &def.key(),
                    name,
                    &format!("Precondition failed: {meta} in precondition: {want}, {meta} in object meta: {have}"),
                ));
            }
        }
    }
    Ok(())
}

/// `propagationPolicy=Orphan`: dependents lose their ownerReference to the object instead of
/// being collected with it.
fn orphan_dependents(c: &Cluster, owner: &Value) {
    let Some(uid) = owner["metadata"]["uid"].as_str() else {
        return;
    };
    for (res, dep) in c.store.owned_by(uid) {
        let ns = dep["metadata"]["namespace"].as_str().unwrap_or("");
        let name = dep["metadata"]["name"].as_str().unwrap_or("");
        let _ = c.store.modify(&res, ns, name, false, |cur| {
            let mut d = cur.cloned().unwrap_or_default();
            if let Some(refs) = d["metadata"]["ownerReferences"].as_array_mut() {
                refs.retain(|r| r["uid"] != uid);
                if refs.is_empty() {
                    if let Some(m) = d["metadata"].as_object_mut() {
                        m.remove("ownerReferences");
                    }
                }
            }
            Ok(d)
        });
    }
}

/// One page of a list (`limit`/`continue`): items after the token's key, the next token
/// (base64 JSON with the list's resourceVersion and the last key, as the API server's) and the
/// count left after the page.
fn paginate(
    items: Vec<Value>,
    limit: Option<usize>,
    token: Option<&str>,
    rv: u64,
) -> Result<(Vec<Value>, Option<String>, usize), ApiError> {
    use base64::Engine as _;
    let key = |o: &Value| {
        format!(
            "{}/{}",
            o["metadata"]["namespace"].as_str().unwrap_or(""),
            o["metadata"]["name"].as_str().unwrap_or("")
        )
    };
    let mut items = items;
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        let bad = |why: &str| ApiError::bad_request(format!("continue key is not valid: {why}"));
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(t))
            .map_err(|_| bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)"))?;
        let v: Value = serde_json::from_slice(&raw).map_err(|_| bad("invalid JSON"))?;
        let start = v["start"].as_str().ok_or_else(|| bad("no start key"))?;
        let start = start.trim_end_matches('\u{0}').to_string();
        items.retain(|o| key(o) > start);
    }
    let Some(limit) = limit.filter(|l| *l > 0 && *l < items.len()) else {
        return Ok((items, None, 0));
    };
    let rest = items.split_off(limit);
    let last = items.last().map(key).unwrap_or_default();
    let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last}\u{0}")});
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string());
    Ok((items, Some(token), rest.len()))
}

/// Access and token reviews: everything is allowed and every token is valid.
fn review(def: &ResourceDef, mut body: Value) -> Value {
    body["apiVersion"] = json!(def.preferred_api_version());
    body["kind"] = json!(def.kind);
    body["status"] = match def.kind.as_str() {
        "TokenReview" => {
            json!({"authenticated": true, "user": {"username": "meshbook-sim", "groups": ["system:masters", "system:authenticated"]}})
        }
        "SelfSubjectReview" => {
            json!({"userInfo": {"username": "meshbook-sim", "groups": ["system:masters", "system:authenticated"]}})
        }
        "SelfSubjectRulesReview" => {
            json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": false})
        }
        _ => json!({"allowed": true, "reason": "simulated clusters allow everything"}),
    };
    body
}

fn scale_if(def: &ResourceDef, sub: Option<&str>, obj: Value) -> Value {
    if sub == Some("scale") {
        scale_of(def, &obj)
    } else {
        obj
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_page_with_limit_and_continue() {
        let items: Vec<Value> = (0..5)
            .map(|i| json!({"metadata": {"namespace": "d", "name": format!("cm{i}")}}))
            .collect();
        let (page, next, left) = paginate(items.clone(), Some(2), None, 9).unwrap();
        assert_eq!((page.len(), left), (2, 3));
        let (page, next, left) = paginate(items.clone(), Some(2), next.as_deref(), 9).unwrap();
        assert_eq!(page[0]["metadata"]["name"], "cm2");
        assert_eq!(left, 1);
        let (page, next, _) = paginate(items.clone(), Some(2), next.as_deref(), 9).unwrap();
        assert_eq!((page.len(), next), (1, None));
        assert_eq!(paginate(items, None, Some("!!"), 9).unwrap_err().code, 400);
    }

    #[test]
    fn query_strings_tolerate_empty_pairs() {
        let q = parse_query(Some("&labelSelector=app%3Dweb%2Ctier+in+(a)&&watch=1"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert_eq!(q["watch"], "1");
        // odd escapes never panic
        let q = parse_query(Some("a=%C3%A9&b=%é&c=%"));
        assert_eq!(q["a"], "é");
        assert_eq!(q["c"], "%");
    }
}
