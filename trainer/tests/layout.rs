//! The trainer stays cut along its seams: no source file grows past about
//! 300 lines (issue 12). A file that needs more is split along a seam into
//! submodules, as `data/inat.rs` and `data/inat_layout.rs` are.

use std::path::{Path, PathBuf};

/// "About 300": the longest files today are at 300.
const MAX_LINES: usize = 320;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_trainer_source_file_is_over_the_limit() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} files under {}", files.len(), src.display());
    let too_long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).unwrap().lines().count();
            (lines > MAX_LINES).then(|| format!("{} has {lines} lines", path.strip_prefix(&src).unwrap().display()))
        })
        .collect();
    assert!(too_long.is_empty(), "over {MAX_LINES} lines; split along a seam: {too_long:?}");
}
