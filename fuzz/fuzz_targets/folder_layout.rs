//! The folder-per-class loader (`taxa_trainer::data::load_folder`) on trees
//! built from the input.
//!
//! The input is a listing, one path a line, `/` between components; a line
//! ending in `/` is a folder, any other a (empty) file. Names are raw bytes,
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
        let _ = if is_dir { std::fs::create_dir_all(&path) } else { std::fs::write(&path, b"").map(|_| ()) };
    }
    match load_folder(&root) {
        Ok(raw) => {
            let classes = raw.classes.len();
            assert!(classes >= 1);
            assert!(raw.val.is_none());
            for s in &raw.train {
                assert!(s.class < classes, "sample class {} of {classes}", s.class);
                let class_dir = s.path.parent().expect("a sample sits in its class folder");
                assert_eq!(class_dir.parent(), Some(root.as_path()), "{} is not root/<class>/<image>", s.path.display());
                let ext = s.path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
                assert!(
                    matches!(ext.as_deref(), Some("jpg" | "jpeg" | "png" | "webp" | "gif" | "bmp" | "tif" | "tiff")),
                    "{} is not an image name",
                    s.path.display()
                );
            }
            let mut class_of_dir = std::collections::HashMap::new();
            for s in &raw.train {
                let dir = s.path.parent().unwrap().to_path_buf();
                let class = *class_of_dir.entry(dir.clone()).or_insert(s.class);
                assert_eq!(class, s.class, "{} holds two classes", dir.display());
            }
            let folders = std::fs::read_dir(&root).unwrap().filter(|e| e.as_ref().unwrap().path().is_dir()).count();
            assert_eq!(classes, folders, "one class per folder under the root");
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(&*root.to_string_lossy()), "error names no folder: {message}");
        }
    }
});
