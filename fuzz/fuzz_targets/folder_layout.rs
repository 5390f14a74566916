//! The folder-per-class loader (`taxa_trainer::data::load_folder`) on trees
//! built from the input.
//!
//! The input is a listing, one path a line, `/` between components; a line
//! ending in `/` is a folder, any other a file: the first bytes of a PNG when
//! its name ends in `.png` (case-insensitive), empty otherwise. Names are raw bytes,
//! so non-UTF-8 names are built too. Components `.`, `..`, empty or with NUL
//! are dropped; at most 64 lines, 4 levels and 200-byte names.
#![no_main]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use taxa_trainer::data::load_folder;

fuzz_target!(|data: &[u8]| {
    taxa_fuzz::init();
    let root = taxa_fuzz::scratch_dir().join("root");
    if root.exists() {
        std::fs::remove_dir_all(&root).expect("clearing the scratch tree");
    }
    std::fs::create_dir(&root).expect("scratch root");
    for line in data.split(|&b| b == b'\n').take(64) {
        let is_dir = line.ends_with(b"/");
        let parts: Vec<&[u8]> = line
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty() && *c != b"." && *c != b".." && !c.contains(&0) && c.len() <= 200)
            .take(4)
            .collect();
        let Some((last, parents)) = parts.split_last() else { continue };
        let mut path = root.clone();
        path.extend(parents.iter().map(|c| OsStr::from_bytes(c)));
        // A name already used for the other kind (file vs folder) is skipped.
        if std::fs::create_dir_all(&path).is_err() {
            continue;
        }
        let path: PathBuf = path.join(OsStr::from_bytes(last));
        let png = last.len() >= 4 && last[last.len() - 4..].eq_ignore_ascii_case(b".png");
        let bytes: &[u8] = if png { b"\x89PNG\r\n\x1a\n" } else { b"" };
        let _ = if is_dir { std::fs::create_dir_all(&path) } else { std::fs::write(&path, bytes).map(|_| ()) };
    }
    match load_folder(&root) {
        Ok(raw) => {
            let classes = raw.classes.len();
            assert!(classes >= 1);
            assert!(raw.val.is_none());
            assert!(raw.classes.iter().all(|c| !c.label.is_empty()), "an empty class name");
            let mut keys: Vec<String> = raw.classes.iter().map(|c| taxa_core::labels::name_key(&c.label)).collect();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), classes, "two classes with the same name to a reader");
            // Every photo sits under its class's folder (subfolders included),
            // and one folder under the root is one class.
            let mut class_of_dir = std::collections::HashMap::new();
            for s in &raw.train {
                assert!(s.class < classes, "sample class {} of {classes}", s.class);
                let relative = s.path.strip_prefix(&root).expect("under the root");
                let class_dir = relative.components().next().expect("root/<class>/…");
                assert!(relative.components().count() >= 2, "{} is not under a class folder", s.path.display());
                let class = *class_of_dir.entry(class_dir.as_os_str().to_owned()).or_insert(s.class);
                assert_eq!(class, s.class, "{:?} holds two classes", class_dir);
            }
            // Every file is a photo or listed with a reason; none is both.
            for (path, why) in &raw.skipped {
                assert!(!why.is_empty() && !raw.train.iter().any(|s| &s.path == path), "{}", path.display());
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(&*root.to_string_lossy()), "error names no folder: {message}");
        }
    }
});
