//! Paths in JSON output: serde refuses a path that is not UTF-8 outright,
//! which lost a whole batch's (or a finished run's) output.

use std::path::Path;

/// Writes a path into JSON as UTF-8, with U+FFFD for bytes that are not
/// (`#[serde(serialize_with = "…")]`).
pub fn serialize_path_lossy<S: serde::Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&path.to_string_lossy())
}
