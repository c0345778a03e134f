//! Concurrency for scripts: `parallel(items, |item| ...)` runs a closure for every item at the
//! same time (one thread each) and returns the results in order.

use std::sync::Arc;

use rhai::{Array, Dynamic, Engine, EvalAltResult, FnPtr, NativeCallContext};

use super::convert::{fail, RhaiResult};
use super::Def;
use crate::session::Session;

pub fn register(engine: &mut Engine, _session: &Arc<Session>) {
    Def::new("structure", "parallel", &["items: array", "body: closure", "array"])
        .doc("Runs `body(item)` for every item concurrently (e.g. every cluster) and returns the results in order; fails when any call fails, naming the item.")
        .example(r#"let ready = parallel(clusters(), |c| { c.wait_rollouts("bookinfo"); c.name });"#)
        .register(engine, |ctx: NativeCallContext, items: Array, body: FnPtr| -> RhaiResult<Array> { parallel(&ctx, items, &body) });
}

fn parallel(ctx: &NativeCallContext, items: Array, body: &FnPtr) -> RhaiResult<Array> {
    if items.len() <= 1 {
        return items
            .into_iter()
            .map(|item| body.call_within_context::<Dynamic>(ctx, (item,)))
            .collect();
    }
    let results: Vec<Result<Dynamic, Box<EvalAltResult>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .cloned()
            .map(|item| {
                std::thread::Builder::new()
                    .stack_size(8 * 1024 * 1024)
                    .spawn_scoped(scope, move || {
                        body.call_within_context::<Dynamic>(ctx, (item,))
                    })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h
                    .join()
                    .unwrap_or_else(|_| Err(fail("a parallel task stopped unexpectedly"))),
                Err(e) => Err(fail(format!("cannot start a parallel task: {e}"))),
            })
            .collect()
    });
    let mut out = Array::with_capacity(results.len());
    for (item, r) in items.iter().zip(results) {
        match r {
            Ok(v) => out.push(v),
            Err(e) => {
                return Err(fail(format!(
                    "parallel task for {} failed: {}",
                    describe(item),
                    super::convert::message_of(&e)
                )))
            }
        }
    }
    Ok(out)
}

fn describe(item: &Dynamic) -> String {
    if let Some(name) = super::cluster_name_of(item) {
        return format!("cluster `{name}`");
    }
    let s = item.to_string();
    match s.char_indices().nth(40) {
        Some((cut, _)) => format!("`{}…`", &s[..cut]),
        None => format!("`{s}`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_items_are_cut_on_a_character_boundary() {
        let item = Dynamic::from("é".repeat(50));
        assert_eq!(describe(&item), format!("`{}…`", "é".repeat(40)));
        assert_eq!(describe(&Dynamic::from("short")), "`short`");
    }
}
