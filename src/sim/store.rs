//! One cluster's objects, its resourceVersion counter and the retained event log that
//! watches replay.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::resources::ResKey;
use super::status::ApiError;

/// How many events a store keeps for watch replay; older resourceVersions get 410 Expired.
const LOG_CAPACITY: usize = 20_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change to one object.
#[derive(Clone, Debug)]
pub struct Event {
    pub rv: u64,
    pub type_: EventType,
    pub res: ResKey,
    pub object: Value,
    /// The object before a modification (watches with selectors need it).
    pub prev: Option<Value>,
}

/// Stored objects are shared: a snapshot holds the same `Arc`s as the store (structural
/// sharing), so taking one copies no object, and an object a later write replaces stays as the
/// snapshot saw it.
type Objects = BTreeMap<(String, String), Arc<Value>>;

/// Where an object is stored: its resource, namespace and name.
pub type Place = (ResKey, String, String);

/// Every object of a store at one moment (see [`Store::snapshot`]); serializable, so a run can
/// keep it in its state directory. Objects are shared with the store (cheap to take).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Snapshot {
    pub objects: Vec<SnapshotObject>,
}

/// One object of a [`Snapshot`] with its resource.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SnapshotObject {
    pub group: String,
    pub plural: String,
    pub object: Arc<Value>,
}

/// Retained events to replay, a receiver of later ones, and the resourceVersion in between.
pub type Subscription = (Vec<Arc<Event>>, broadcast::Receiver<Arc<Event>>, u64);

struct State {
    rv: u64,
    objects: HashMap<ResKey, Objects>,
    /// Owner uid -> the objects naming it (ownerReferences or the simulator's owner-uid
    /// annotation): garbage collection and rules find dependents without a scan.
    owners: HashMap<String, BTreeSet<Place>>,
    log: VecDeque<Arc<Event>>,
    /// Events after this resourceVersion are all in `log`.
    oldest: u64,
}

/// The in-memory object store of one simulated cluster.
pub struct Store {
    state: Mutex<State>,
    tx: broadcast::Sender<Arc<Event>>,
    /// What a simulator rule last applied to each place, and the resourceVersion the object
    /// had after it (see [`Store::applied_unchanged`]).
    applied: Mutex<HashMap<(Place, String), (Value, String)>>,
}

/// What a write did.
#[derive(Debug, Clone)]
pub struct Written {
    pub object: Value,
    pub created: bool,
    pub changed: bool,
    pub deleted: bool,
}

pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(field))
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// Whether two objects differ outside metadata, status, apiVersion and kind (their spec,
/// data, ...), compared in place.
fn spec_differs(a: &Value, b: &Value) -> bool {
    const SKIP: [&str; 4] = ["metadata", "status", "apiVersion", "kind"];
    match (a.as_object(), b.as_object()) {
        (Some(a), Some(b)) => {
            let mut ai = a.iter().filter(|(k, _)| !SKIP.contains(&k.as_str()));
            let mut bi = b.iter().filter(|(k, _)| !SKIP.contains(&k.as_str()));
            loop {
                match (ai.next(), bi.next()) {
                    (None, None) => return false,
                    (Some(x), Some(y)) if x == y => {}
                    _ => return true,
                }
            }
        }
        _ => a != b,
    }
}

/// The owner uids an object names: its ownerReferences and the owner-uid annotation.
fn owner_uids(v: &Value) -> Vec<&str> {
    let Some(m) = v.get("metadata") else {
        return vec![];
    };
    let mut out: Vec<&str> = m
        .get("ownerReferences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("uid").and_then(Value::as_str))
        .collect();
    if let Some(u) = m
        .get("annotations")
        .and_then(|a| a.get("sim.meshbook.dev/owner-uid"))
        .and_then(Value::as_str)
    {
        out.push(u);
    }
    out
}

impl State {
    /// Stores `v` at `key`, keeping the owner index; returns what was there.
    fn put(&mut self, res: &ResKey, key: (String, String), v: Arc<Value>) -> Option<Arc<Value>> {
        let place = (res.clone(), key.0.clone(), key.1.clone());
        let prev = self
            .objects
            .entry(res.clone())
            .or_default()
            .insert(key, v.clone());
        if let Some(p) = &prev {
            self.unindex(&place, p, Some(&v));
        }
        for u in owner_uids(&v) {
            self.owners
                .entry(u.to_string())
                .or_default()
                .insert(place.clone());
        }
        prev
    }

    /// Removes the object at `key`, keeping the owner index.
    fn take(&mut self, res: &ResKey, key: &(String, String)) -> Option<Arc<Value>> {
        let prev = self.objects.get_mut(res).and_then(|c| c.remove(key));
        if let Some(p) = &prev {
            let place = (res.clone(), key.0.clone(), key.1.clone());
            self.unindex(&place, p, None);
        }
        prev
    }

    /// Drops index entries of `old`'s owners that `now` (what is stored there now) no longer
    /// names.
    fn unindex(&mut self, place: &Place, old: &Value, now: Option<&Value>) {
        let kept: Vec<&str> = now.map(owner_uids).unwrap_or_default();
        for u in owner_uids(old) {
            if kept.contains(&u) {
                continue;
            }
            if let Some(set) = self.owners.get_mut(u) {
                set.remove(place);
                if set.is_empty() {
                    self.owners.remove(u);
                }
            }
        }
    }
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(8192);
        Store {
            state: Mutex::new(State {
                rv: 1,
                objects: HashMap::new(),
                owners: HashMap::new(),
                log: VecDeque::new(),
                oldest: 1,
            }),
            tx,
            applied: Mutex::new(HashMap::new()),
        }
    }

    /// The resourceVersion of a stored object.
    pub fn resource_version(&self, res: &ResKey, ns: &str, name: &str) -> Option<String> {
        let st = self.lock();
        st.objects
            .get(res)?
            .get(&(ns.to_string(), name.to_string()))
            .map(|v| meta_str(v, "resourceVersion").to_string())
    }

    /// Whether `manager` last applied exactly `body` to this place and nothing has written the
    /// object since: applying it again would change nothing.
    pub fn applied_unchanged(&self, place: &Place, manager: &str, body: &Value) -> bool {
        let memo = self.applied.lock().unwrap_or_else(|e| e.into_inner());
        let Some((last, rv)) = memo.get(&(place.clone(), manager.to_string())) else {
            return false;
        };
        last == body && self.resource_version(&place.0, &place.1, &place.2).as_ref() == Some(rv)
    }

    /// Remembers what `manager` applied to a place and the object's resourceVersion after.
    pub fn remember_applied(&self, place: Place, manager: &str, body: Value, rv: String) {
        self.applied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((place, manager.to_string()), (body, rv));
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    pub fn get(&self, res: &ResKey, ns: &str, name: &str) -> Option<Value> {
        let st = self.lock();
        st.objects
            .get(res)
            .and_then(|m| m.get(&(ns.to_string(), name.to_string())))
            .map(|v| Value::clone(v))
    }

    /// Objects of one kind (in one namespace, or all) and the list resourceVersion.
    pub fn list(&self, res: &ResKey, ns: Option<&str>) -> (Vec<Value>, u64) {
        let st = self.lock();
        let items = match st.objects.get(res) {
            Some(m) => m
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                .map(|(_, v)| Value::clone(v))
                .collect(),
            None => vec![],
        };
        (items, st.rv)
    }

    /// [`Store::list`] without copying the objects: the stored ones, shared.
    pub fn list_shared(&self, res: &ResKey, ns: Option<&str>) -> Vec<Arc<Value>> {
        let st = self.lock();
        match st.objects.get(res) {
            Some(m) => m
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                .map(|(_, v)| v.clone())
                .collect(),
            None => vec![],
        }
    }

    /// The namespaces and names of the objects of one kind (in one namespace, or all), without
    /// copying the objects.
    pub fn keys(&self, res: &ResKey, ns: Option<&str>) -> Vec<(String, String)> {
        let st = self.lock();
        match st.objects.get(res) {
            Some(m) => m
                .keys()
                .filter(|(n, _)| ns.is_none_or(|ns| ns == n))
                .cloned()
                .collect(),
            None => vec![],
        }
    }

    /// Every object in a namespace, with its kind.
    pub fn in_namespace(&self, ns: &str) -> Vec<(ResKey, Value)> {
        let st = self.lock();
        let mut out = Vec::new();
        for (res, m) in &st.objects {
            for ((n, _), v) in m {
                if n == ns {
                    out.push((res.clone(), Value::clone(v)));
                }
            }
        }
        out
    }

    /// Every object whose ownerReferences name `uid`.
    pub fn owned_by(&self, uid: &str) -> Vec<(ResKey, Value)> {
        let st = self.lock();
        let Some(places) = st.owners.get(uid) else {
            return vec![];
        };
        places
            .iter()
            .filter_map(|(res, ns, name)| {
                let v = st.objects.get(res)?.get(&(ns.clone(), name.clone()))?;
                Some((res.clone(), Value::clone(v)))
            })
            .collect()
    }

    /// Objects of one kind in one namespace whose ownerReferences name `uid`, in name order
    /// (as [`Store::list`] orders them), found through the owner index.
    pub fn owned_in(&self, res: &ResKey, ns: &str, uid: &str) -> Vec<Value> {
        let st = self.lock();
        let Some(places) = st.owners.get(uid) else {
            return vec![];
        };
        let Some(objects) = st.objects.get(res) else {
            return vec![];
        };
        places
            .iter()
            .filter(|(r, n, _)| r == res && n == ns)
            .filter_map(|(_, n, name)| objects.get(&(n.clone(), name.clone())))
            .filter(|v| {
                v["metadata"]["ownerReferences"]
                    .as_array()
                    .is_some_and(|refs| refs.iter().any(|x| x["uid"] == uid))
            })
            .map(|v| Value::clone(v))
            .collect()
    }

    /// Reads, changes and writes one object atomically. `f` gets the current object (or None)
    /// and returns the desired one. Unchanged objects are not rewritten (no resourceVersion bump).
    pub fn modify(
        &self,
        res: &ResKey,
        ns: &str,
        name: &str,
        dry_run: bool,
        f: impl FnOnce(Option<&Value>) -> Result<Value, ApiError>,
    ) -> Result<Written, ApiError> {
        let mut st = self.lock();
        let key = (ns.to_string(), name.to_string());
        let old = st
            .objects
            .get(res)
            .and_then(|m| m.get(&key))
            .map(|v| Value::clone(v));
        let new = f(old.as_ref())?;
        self.commit(&mut st, res, key, old, new, dry_run)
    }

    /// Creates an object; 409 AlreadyExists when the name is taken.
    pub fn create(&self, res: &ResKey, obj: Value, dry_run: bool) -> Result<Written, ApiError> {
        let ns = meta_str(&obj, "namespace").to_string();
        let name = meta_str(&obj, "name").to_string();
        self.modify(res, &ns, &name, dry_run, |old| match old {
            Some(_) => Err(ApiError::already_exists(res, &name)),
            None => Ok(obj),
        })
    }

    fn commit(
        &self,
        st: &mut State,
        res: &ResKey,
        key: (String, String),
        old: Option<Value>,
        mut new: Value,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let next_rv = st.rv + 1;
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        let type_ = match &old {
            None => {
                let m = &mut new["metadata"];
                m["uid"] = json!(new_uid());
                m["creationTimestamp"] = json!(now());
                m["generation"] = json!(1);
                if let Some(o) = m.as_object_mut() {
                    o.remove("deletionTimestamp");
                    if o.get("namespace").and_then(Value::as_str) == Some("") {
                        o.remove("namespace");
                    }
                }
                EventType::Added
            }
            Some(old) => {
                let om = &old["metadata"];
                let m = &mut new["metadata"];
                m["uid"] = om["uid"].clone();
                m["creationTimestamp"] = om["creationTimestamp"].clone();
                if !om["deletionTimestamp"].is_null() {
                    m["deletionTimestamp"] = om["deletionTimestamp"].clone();
                }
                m["resourceVersion"] = om["resourceVersion"].clone();
                let gen = om["generation"].as_i64().unwrap_or(1);
                let spec_changed = spec_differs(old, &new);
                new["metadata"]["generation"] = json!(if spec_changed { gen + 1 } else { gen });
                if &new == old {
                    return Ok(Written {
                        object: new,
                        created: false,
                        changed: false,
                        deleted: false,
                    });
                }
                EventType::Modified
            }
        };
        new["metadata"]["resourceVersion"] = json!(next_rv.to_string());
        // a deleted object whose finalizers are all gone goes away now
        let finalizers_done = new["metadata"]["finalizers"]
            .as_array()
            .is_none_or(|f| f.is_empty());
        let had_finalizers = old.as_ref().is_some_and(|o| {
            o["metadata"]["finalizers"]
                .as_array()
                .is_some_and(|f| !f.is_empty())
        });
        let remove =
            !new["metadata"]["deletionTimestamp"].is_null() && finalizers_done && had_finalizers;
        if dry_run {
            return Ok(Written {
                created: type_ == EventType::Added,
                changed: true,
                deleted: remove,
                object: new,
            });
        }
        st.rv = next_rv;
        let type_ = if remove {
            st.take(res, &key);
            EventType::Deleted
        } else {
            st.put(res, key, Arc::new(new.clone()));
            type_
        };
        self.emit(st, res, type_, new.clone(), old);
        Ok(Written {
            created: type_ == EventType::Added,
            changed: true,
            deleted: remove,
            object: new,
        })
    }

    fn emit(
        &self,
        st: &mut State,
        res: &ResKey,
        type_: EventType,
        object: Value,
        prev: Option<Value>,
    ) {
        let ev = Arc::new(Event {
            rv: st.rv,
            type_,
            res: res.clone(),
            object,
            prev,
        });
        st.log.push_back(ev.clone());
        while st.log.len() > LOG_CAPACITY {
            if let Some(e) = st.log.pop_front() {
                st.oldest = e.rv;
            }
        }
        let _ = self.tx.send(ev);
    }

    /// Deletes an object: removed at once without finalizers, otherwise marked with a
    /// deletionTimestamp. Returns what was written (with `deleted` telling which happened).
    pub fn delete(
        &self,
        res: &ResKey,
        ns: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<Written, ApiError> {
        let mut st = self.lock();
        let key = (ns.to_string(), name.to_string());
        let Some(old) = st
            .objects
            .get(res)
            .and_then(|m| m.get(&key))
            .map(|v| Value::clone(v))
        else {
            return Err(ApiError::not_found(res, name));
        };
        let mut new = old.clone();
        if new["metadata"]["deletionTimestamp"].is_null() {
            new["metadata"]["deletionTimestamp"] = json!(now());
            new["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        }
        let has_finalizers = new["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            return self.commit(&mut st, res, key, Some(old), new, dry_run);
        }
        if dry_run {
            return Ok(Written {
                object: old,
                created: false,
                changed: true,
                deleted: true,
            });
        }
        st.rv += 1;
        new["metadata"]["resourceVersion"] = json!(st.rv.to_string());
        st.take(res, &key);
        self.emit(&mut st, res, EventType::Deleted, new.clone(), None);
        Ok(Written {
            object: new,
            created: false,
            changed: true,
            deleted: true,
        })
    }

    /// Subscribes to changes. With `since`, also returns the retained events after it (or 410
    /// Expired if they are no longer retained). The current objects are returned by `list`.
    pub fn subscribe(&self, since: Option<u64>) -> Result<Subscription, ApiError> {
        let st = self.lock();
        let rx = self.tx.subscribe();
        let replay = match since {
            None => vec![],
            Some(rv) if rv < st.oldest => {
                return Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    st.oldest
                )))
            }
            Some(rv) => st.log.iter().filter(|e| e.rv > rv).cloned().collect(),
        };
        Ok((replay, rx, st.rv))
    }

    /// Subscribes and snapshots one kind in one go, so no change falls between the two.
    pub fn list_and_subscribe(
        &self,
        res: &ResKey,
        ns: Option<&str>,
    ) -> (Vec<Value>, broadcast::Receiver<Arc<Event>>, u64) {
        let st = self.lock();
        let rx = self.tx.subscribe();
        let items = match st.objects.get(res) {
            Some(m) => m
                .iter()
                .filter(|((n, _), _)| ns.is_none_or(|ns| ns == n))
                .map(|(_, v)| Value::clone(v))
                .collect(),
            None => vec![],
        };
        (items, rx, st.rv)
    }

    /// A receiver of every future event (controllers use it).
    pub fn events(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }

    /// Every stored object (shared, not copied), to put back later with [`Store::restore`].
    pub fn snapshot(&self) -> Snapshot {
        let st = self.lock();
        let mut objects: Vec<(ResKey, Arc<Value>)> = st
            .objects
            .iter()
            .flat_map(|(res, m)| m.values().map(move |v| (res.clone(), v.clone())))
            .collect();
        objects.sort_by(|a, b| {
            (
                &a.0.group,
                &a.0.plural,
                meta_str(&a.1, "namespace"),
                meta_str(&a.1, "name"),
            )
                .cmp(&(
                    &b.0.group,
                    &b.0.plural,
                    meta_str(&b.1, "namespace"),
                    meta_str(&b.1, "name"),
                ))
        });
        Snapshot {
            objects: objects
                .into_iter()
                .map(|(res, object)| SnapshotObject {
                    group: res.group,
                    plural: res.plural,
                    object,
                })
                .collect(),
        }
    }

    /// Makes the stored objects those of `snap`, as changes every watch sees: objects not in
    /// it are DELETED, its objects ADDED (or MODIFIED), each with a new resourceVersion (they
    /// only ever grow). The event log is kept, so watches go on.
    pub fn restore(&self, snap: &Snapshot) {
        let mut st = self.lock();
        let mut wanted: HashMap<ResKey, BTreeMap<(String, String), Value>> = HashMap::new();
        for o in &snap.objects {
            let key = (
                meta_str(&o.object, "namespace").to_string(),
                meta_str(&o.object, "name").to_string(),
            );
            wanted
                .entry(ResKey::new(&o.group, &o.plural))
                .or_default()
                .insert(key, Value::clone(&o.object));
        }
        let mut gone: Vec<(ResKey, (String, String), Value)> = Vec::new();
        for (res, m) in &st.objects {
            for (key, v) in m {
                if !wanted.get(res).is_some_and(|w| w.contains_key(key)) {
                    gone.push((res.clone(), key.clone(), Value::clone(v)));
                }
            }
        }
        for (res, key, mut old) in gone {
            st.rv += 1;
            old["metadata"]["resourceVersion"] = json!(st.rv.to_string());
            st.take(&res, &key);
            self.emit(&mut st, &res, EventType::Deleted, old, None);
        }
        for (res, m) in wanted {
            for (key, mut v) in m {
                st.rv += 1;
                v["metadata"]["resourceVersion"] = json!(st.rv.to_string());
                let prev = st
                    .put(&res, key, Arc::new(v.clone()))
                    .map(|p| Value::clone(&p));
                let type_ = if prev.is_some() {
                    EventType::Modified
                } else {
                    EventType::Added
                };
                self.emit(&mut st, &res, type_, v, prev);
            }
        }
    }

    /// Pretends events up to `rv` have been dropped from the log.
    #[cfg(test)]
    pub(crate) fn forget_before_for_test(&self, rv: u64) {
        let mut st = self.lock();
        st.oldest = st.oldest.max(rv);
        st.log.retain(|e| e.rv > rv);
    }

    #[cfg(test)]
    fn set_log_capacity_for_test(&self, keep: usize) {
        let mut st = self.lock();
        while st.log.len() > keep {
            if let Some(e) = st.log.pop_front() {
                st.oldest = e.rv;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(name: &str, v: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"k": v}})
    }

    #[test]
    fn create_sets_metadata_and_unchanged_update_keeps_rv() {
        let s = Store::new();
        let r = ResKey::new("", "configmaps");
        let w = s.create(&r, cm("a", "1"), false).unwrap();
        assert!(w.created);
        assert_eq!(w.object["metadata"]["generation"], 1);
        let rv = w.object["metadata"]["resourceVersion"].clone();
        let same = s
            .modify(&r, "default", "a", false, |o| Ok(o.unwrap().clone()))
            .unwrap();
        assert!(!same.changed);
        assert_eq!(same.object["metadata"]["resourceVersion"], rv);
        let changed = s
            .modify(&r, "default", "a", false, |_| Ok(cm("a", "2")))
            .unwrap();
        assert_eq!(changed.object["metadata"]["generation"], 2);
        assert_ne!(changed.object["metadata"]["resourceVersion"], rv);
        assert!(s.create(&r, cm("a", "3"), false).unwrap_err().code == 409);
    }

    #[test]
    fn replay_after_rv_and_expiry() {
        let s = Store::new();
        let r = ResKey::new("", "configmaps");
        let start = s.current_rv();
        for i in 0..5 {
            s.create(&r, cm(&format!("c{i}"), "x"), false).unwrap();
        }
        let (replay, _rx, _) = s.subscribe(Some(start + 2)).unwrap();
        assert_eq!(replay.len(), 3);
        assert_eq!(replay[0].object["metadata"]["name"], "c2");
        s.set_log_capacity_for_test(1);
        let err = s.subscribe(Some(start)).unwrap_err();
        assert_eq!(err.code, 410);
        assert!(s.subscribe(Some(s.current_rv())).is_ok());
    }

    #[test]
    fn delete_with_finalizers_marks_then_removes() {
        let s = Store::new();
        let r = ResKey::new("", "configmaps");
        let mut o = cm("f", "1");
        o["metadata"]["finalizers"] = json!(["x"]);
        s.create(&r, o, false).unwrap();
        let w = s.delete(&r, "default", "f", false).unwrap();
        assert!(!w.deleted);
        assert!(s.get(&r, "default", "f").unwrap()["metadata"]["deletionTimestamp"].is_string());
        let w = s
            .modify(&r, "default", "f", false, |o| {
                let mut o = o.unwrap().clone();
                o["metadata"]["finalizers"] = json!([]);
                Ok(o)
            })
            .unwrap();
        assert!(w.deleted);
        assert!(s.get(&r, "default", "f").is_none());
    }

    #[test]
    fn the_owner_index_follows_writes_deletes_and_restores() {
        let s = Store::new();
        let pods = ResKey::new("", "pods");
        let owned = |name: &str, owner: &str| {
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name,
                "namespace": "default", "ownerReferences": [{"uid": owner}]}})
        };
        s.create(&pods, owned("a", "rs-1"), false).unwrap();
        s.create(&pods, owned("b", "rs-1"), false).unwrap();
        let snap = s.snapshot();
        let names = |uid: &str| -> Vec<String> {
            s.owned_in(&pods, "default", uid)
                .iter()
                .map(|o| meta_str(o, "name").to_string())
                .collect()
        };
        assert_eq!(names("rs-1"), vec!["a", "b"]);
        // an update that changes the owner moves the object in the index
        s.modify(&pods, "default", "b", false, |_| Ok(owned("b", "rs-2")))
            .unwrap();
        assert_eq!(names("rs-1"), vec!["a"]);
        assert_eq!(names("rs-2"), vec!["b"]);
        assert_eq!(s.owned_by("rs-2").len(), 1);
        s.delete(&pods, "default", "a", false).unwrap();
        assert!(names("rs-1").is_empty());
        assert!(s.owned_in(&pods, "other", "rs-2").is_empty());
        s.restore(&snap);
        assert_eq!(names("rs-1"), vec!["a", "b"]);
        assert!(s.owned_by("rs-2").is_empty());
    }

    #[test]
    fn generation_moves_with_the_spec_only() {
        let s = Store::new();
        let r = ResKey::new("", "configmaps");
        s.create(&r, cm("g", "1"), false).unwrap();
        let w = s
            .modify(&r, "default", "g", false, |o| {
                let mut o = o.unwrap().clone();
                o["metadata"]["labels"] = json!({"a": "b"});
                o["status"] = json!({"x": 1});
                Ok(o)
            })
            .unwrap();
        assert!(w.changed);
        assert_eq!(w.object["metadata"]["generation"], 1);
        let w = s
            .modify(&r, "default", "g", false, |o| {
                let mut o = o.unwrap().clone();
                o["extra"] = json!(true);
                Ok(o)
            })
            .unwrap();
        assert_eq!(w.object["metadata"]["generation"], 2);
    }

    #[test]
    fn a_snapshot_shares_the_stored_objects() {
        let s = Store::new();
        let r = ResKey::new("", "configmaps");
        s.create(&r, cm("a", "1"), false).unwrap();
        let one = s.snapshot();
        let two = s.snapshot();
        assert!(Arc::ptr_eq(&one.objects[0].object, &two.objects[0].object));
        s.modify(&r, "default", "a", false, |_| Ok(cm("a", "2")))
            .unwrap();
        // the earlier snapshot keeps the object as it was
        assert_eq!(one.objects[0].object["data"]["k"], "1");
        assert!(!Arc::ptr_eq(
            &one.objects[0].object,
            &s.snapshot().objects[0].object
        ));
    }

    #[test]
    fn a_snapshot_restores_what_was_stored_and_watches_see_it() {
        let store = Store::new();
        let cm = ResKey::new("", "configmaps");
        let obj = |name: &str, v: &str| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": name, "namespace": "default"}, "data": {"v": v}})
        };
        store.create(&cm, obj("a", "1"), false).unwrap();
        let snap = store.snapshot();
        let text = serde_json::to_string(&snap).unwrap();
        let snap: Snapshot = serde_json::from_str(&text).unwrap();
        store.create(&cm, obj("b", "2"), false).unwrap();
        store.delete(&cm, "default", "a", false).unwrap();
        let rv = store.current_rv();
        let (_, mut rx, _) = store.subscribe(Some(rv)).unwrap();
        store.restore(&snap);
        let names: Vec<String> = store
            .list(&cm, None)
            .0
            .iter()
            .map(|o| meta_str(o, "name").to_string())
            .collect();
        assert_eq!(names, vec!["a"]);
        assert_eq!(store.get(&cm, "default", "a").unwrap()["data"]["v"], "1");
        let mut seen = Vec::new();
        while let Ok(e) = rx.try_recv() {
            seen.push((e.type_, meta_str(&e.object, "name").to_string()));
            assert!(e.rv > rv);
        }
        assert_eq!(
            seen,
            vec![
                (EventType::Deleted, "b".into()),
                (EventType::Added, "a".into())
            ]
        );
    }
}
