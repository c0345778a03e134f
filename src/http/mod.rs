//! HTTP checks: curl, expectations, sampling (Rhai-free core).
