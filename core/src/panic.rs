//! Panics caught at taxa's boundaries (a decoder's, tract's, the FFI's),
//! turned into text for the error that replaces them.

/// The text of a caught panic: its `&str` or `String` payload, else "unknown panic".
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
