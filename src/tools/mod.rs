//! External tools as argv processes (Rhai-free core).
