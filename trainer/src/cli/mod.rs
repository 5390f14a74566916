pub mod bench;
pub mod classify;
pub mod import;
pub mod inspect;
pub mod synth;
taxa_trainer::train_modules!(demo, demo_real, devices, experiment, export, train, train_bench);

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub use taxa_trainer::json_paths::serialize_path_lossy;

/// The exact bytes of a path that is not UTF-8 (Unix), written beside its
/// lossy form so a script can still name the file; `None` for a UTF-8 path.
pub fn non_utf8_bytes(path: &std::path::Path) -> Option<Vec<u8>> {
    if path.to_str().is_some() {
        return None;
    }
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        Some(path.as_os_str().as_bytes().to_vec())
    }
    #[cfg(not(unix))]
    {
        Some(path.to_string_lossy().into_owned().into_bytes())
    }
}
