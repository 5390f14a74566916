//! A folder-per-class layout: `root/<class name>/…/<image>`. Classes are the
//! sorted folder names; the name is the label and the species.
//!
//! The rule, as the README states it:
//! - each folder directly under `root` is a class, named by the folder;
//! - every file under a class folder, in subfolders too (`Rana temporaria/2024/`),
//!   is a photo of that class when its first bytes are a format taxa decodes
//!   (whatever its extension: `.jfif`, `.jpe`, upper case, none), and is listed
//!   in `skipped.txt` with the reason otherwise (HEIC and AVIF by name);
//! - what operating systems, NAS boxes and zip tools leave behind
//!   ([`is_system_entry`]) is neither a class nor a photo, at any depth;
//! - a class name is the folder name in Unicode NFC, trimmed; a name that is
//!   not UTF-8 (an old zip's Latin-1) is read as Latin-1, with a note; an empty
//!   name, or two folders whose names read the same (case, Unicode form),
//!   refuse the layout, naming the folders.

use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use taxa_core::Taxonomy;
use unicode_normalization::UnicodeNormalization;

use super::{ClassInfo, DataError, RawDataset, Sample};

/// File extensions of the formats taxa decodes (case-insensitive). Folders
/// are sorted by content, not by these: they are for messages.
pub const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// What operating systems, NAS boxes and zip tools leave in a photo
/// collection: never a class or a photo. Hidden names (`.DS_Store`, macOS's
/// `._*` AppleDouble files, `.Trashes`, `.thumbnails`), Synology's `@eaDir`
/// and `#recycle`, QNAP's `@Recycle` and `.@__thumb`, `__MACOSX` from zips,
/// Windows' `Thumbs.db`, `desktop.ini`, `$RECYCLE.BIN` and `System Volume
/// Information`.
pub fn is_system_entry(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    const NAMES: [&str; 8] =
        ["@eaDir", "#recycle", "@Recycle", "@Recently-Snapshot", "__MACOSX", "Thumbs.db", "desktop.ini", "System Volume Information"];
    name.starts_with('.') || name.starts_with('$') || NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// A class folder's name as a label: NFC, trimmed; a name that is not UTF-8
/// is read as Latin-1 (ISO 8859-1: each byte one character, so two such
/// names never merge). Returns the label and whether Latin-1 was assumed.
pub fn class_label(name: &OsStr) -> (String, bool) {
    let (text, latin1) = match name.to_str() {
        Some(text) => (text.to_string(), false),
        None => (latin1_lossless(name), true),
    };
    (text.trim().nfc().collect(), latin1)
}

#[cfg(unix)]
fn latin1_lossless(name: &OsStr) -> String {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes().iter().map(|&b| char::from(b)).collect()
}

#[cfg(not(unix))]
fn latin1_lossless(name: &OsStr) -> String {
    name.to_string_lossy().into_owned()
}

/// Loads `root/<class>/…/<image>` by the rule in this module's docs.
///
/// Errors name `root` (or the class folders) and say what is wrong: a
/// missing or unreadable folder, a file instead of a folder, no class
/// folders (with a pointer to `--inat` when the folder holds iNaturalist
/// JSON files), no photo in any class folder, an empty class name, or two
/// class folders with the same name to a reader.
pub fn load_folder(root: &Path) -> Result<RawDataset, DataError> {
    let invalid = |message: String| DataError::Invalid { path: root.into(), message };
    if root.is_file() {
        return Err(invalid("is a file; --folder takes a folder that holds one sub-folder per class (root/<class>/<image>)".into()));
    }
    let entries = std::fs::read_dir(root).map_err(|error| DataError::Io { path: root.into(), error })?;
    // Its image folders would otherwise read as classes named "train" and "val".
    if super::inat_layout::looks_like_inat(root) {
        return Err(invalid(format!(
            "holds iNaturalist annotation files: use --inat instead of --folder (it holds {})",
            super::folder_listing(root, 12)
        )));
    }
    let mut class_dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !is_system_entry(&e.file_name()))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    class_dirs.sort();
    if class_dirs.is_empty() {
        return Err(invalid(format!("no class folders (expected root/<class>/<image>); it holds {}", super::folder_listing(root, 12))));
    }
    let mut raw = RawDataset { classes: Vec::new(), train: Vec::new(), val: None, skipped: Vec::new(), notes: Vec::new() };
    let mut seen: Vec<(String, PathBuf)> = Vec::new();
    for (class, dir) in class_dirs.iter().enumerate() {
        let name = dir.file_name().unwrap_or_default();
        let (label, latin1) = class_label(name);
        if label.is_empty() {
            return Err(invalid(format!("class folder {:?} has an empty name once trimmed; rename it to the species", name)));
        }
        if let Some((_, other)) = seen.iter().find(|(key, _)| *key == taxa_core::labels::name_key(&label)) {
            return Err(invalid(format!(
                "class folders {:?} and {:?} have the same name to a reader (they differ only in case or Unicode form); merge or rename one",
                other.file_name().unwrap_or_default(),
                name
            )));
        }
        seen.push((taxa_core::labels::name_key(&label), dir.clone()));
        if latin1 {
            raw.notes.push(format!("class folder {name:?} is not UTF-8; read as Latin-1: \"{label}\""));
        }
        for path in class_files(dir, &mut raw.skipped)? {
            match photo_format(&path) {
                Ok(()) => raw.train.push(Sample { path, class }),
                Err(why) => raw.skipped.push((path, why)),
            }
        }
        raw.classes.push(ClassInfo { taxonomy: Taxonomy::species_only(label.clone()), label });
    }
    if raw.train.is_empty() {
        let why = raw.skipped.first().map(|(p, why)| format!("; {}: {why}", p.display())).unwrap_or_default();
        return Err(invalid(format!(
            "{} class folders but no photo taxa reads in them ({} files; formats read: .{}){why}; it holds {}",
            class_dirs.len(),
            raw.skipped.len(),
            IMAGE_EXTENSIONS.join(", ."),
            super::folder_listing(root, 12)
        )));
    }
    Ok(raw)
}

/// Every file under `dir` (subfolders included, symbolic links followed,
/// loops refused by walkdir), system entries left out, sorted. Folders
/// that cannot be read are listed in `skipped` with the reason.
fn class_files(dir: &Path, skipped: &mut Vec<(PathBuf, String)>) -> Result<Vec<PathBuf>, DataError> {
    let mut files = Vec::new();
    let walk = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_system_entry(e.file_name()));
    for entry in walk {
        match entry {
            Ok(e) if e.file_type().is_file() => files.push(e.into_path()),
            Ok(_) => {}
            Err(e) => {
                let path = e.path().map_or_else(|| dir.to_path_buf(), Path::to_path_buf);
                if path == dir {
                    return Err(DataError::Io { path, error: e.into_io_error().unwrap_or_else(|| std::io::Error::other("unreadable")) });
                }
                let why = if e.loop_ancestor().is_some() { "a symbolic link back to a folder above it; not followed".to_string() } else { format!("cannot read: {e}") };
                skipped.push((path, why));
            }
        }
    }
    Ok(files)
}

/// Whether a file's first bytes are a photo taxa decodes; otherwise why not.
fn photo_format(path: &Path) -> Result<(), String> {
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .and_then(|f| f.take(64).read_to_end(&mut head))
        .map_err(|e| format!("cannot read: {e}"))?;
    taxa_core::image_format(&head).map(|_| ()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first bytes of a PNG: all the loader reads.
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
    /// An iPhone HEIC's `ftyp` box.
    const HEIC: &[u8] = b"\0\0\0\x1cftypheic\0\0\0\0mif1heicmiaf\0\0\x0d\xd8meta";

    fn write(dir: &Path, files: &[(&str, &[u8])]) {
        for (name, bytes) in files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }

    fn names(raw: &RawDataset, class: usize) -> Vec<String> {
        raw.train.iter().filter(|s| s.class == class).map(|s| s.path.file_name().unwrap().to_string_lossy().into_owned()).collect()
    }

    /// train-folder-system-folders: a Synology `@eaDir` at the root and macOS
    /// files beside the photos; and the rest of the kind, at any depth.
    #[test]
    fn system_folders_and_files_are_neither_classes_nor_photos() {
        let dir = tempfile::tempdir().unwrap();
        let frog = dir.path().join("Rana temporaria");
        write(&frog, &[("IMG_0001.jpg", JPEG), ("._IMG_0001.jpg", JPEG), (".DS_Store", b"x"), ("Thumbs.db", b"x"), ("desktop.ini", b"x")]);
        write(&frog, &[("@eaDir/IMG_0001.jpg/SYNOPHOTO_THUMB_M.jpg", JPEG), ("2024/.thumbnails/a.jpg", JPEG)]);
        std::fs::create_dir(frog.join("IMG_0002.jpg")).unwrap(); // a folder named like a photo
        for system in ["@eaDir", "__MACOSX", ".Trashes", "#recycle", "$RECYCLE.BIN", "System Volume Information", ".@__thumb"] {
            write(&dir.path().join(system), &[("IMG_0000.jpg", JPEG)]);
        }
        let raw = load_folder(dir.path()).unwrap();
        assert_eq!(raw.classes.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["Rana temporaria"]);
        assert_eq!(names(&raw, 0), ["IMG_0001.jpg"]);
        assert!(raw.skipped.is_empty(), "system files are not the user's photos: {:?}", raw.skipped);
    }

    /// Every file in a class folder is a photo or is listed with its reason:
    /// sorted by content, whatever the extension; subfolders belong to the class.
    #[test]
    fn every_file_is_used_or_listed_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let files: [(&str, &[u8]); 9] = [
            ("Rana arvalis/1.jpg", JPEG),
            ("Rana arvalis/2.PNG", PNG),
            ("Rana arvalis/3.jfif", JPEG),
            ("Rana arvalis/4.JPE", JPEG),
            ("Rana arvalis/scan", PNG),
            ("Rana arvalis/notes.txt", b"seen at the pond"),
            ("Rana arvalis/IMG_0100.HEIC", HEIC),
            ("Rana arvalis/2024/june/5.jpeg", JPEG),
            ("Bufo bufo/a.jpeg", JPEG),
        ];
        write(dir.path(), &files);
        std::fs::create_dir(dir.path().join("Hyla arborea")).unwrap(); // empty: a class with no photo
        let raw = load_folder(dir.path()).unwrap();
        let labels: Vec<&str> = raw.classes.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["Bufo bufo", "Hyla arborea", "Rana arvalis"]);
        assert_eq!(names(&raw, 2), ["1.jpg", "2.PNG", "5.jpeg", "3.jfif", "4.JPE", "scan"]);
        assert_eq!(names(&raw, 1), Vec::<String>::new());
        let skipped: Vec<(String, &str)> = raw.skipped.iter().map(|(p, why)| (p.file_name().unwrap().to_string_lossy().into_owned(), why.as_str())).collect();
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].0 == "IMG_0100.HEIC" && skipped[0].1.contains("HEIC") && skipped[0].1.contains("JPEG"), "names the format: {skipped:?}");
        assert!(skipped[1].0 == "notes.txt" && skipped[1].1.contains("unrecognised image format"), "{skipped:?}");
        assert_eq!(raw.train.len() + raw.skipped.len(), files.len());

        let err = load_folder(&dir.path().join("Bufo bufo")).unwrap_err().to_string();
        assert!(err.contains("no class folders") && err.contains("a.jpeg"), "says what is there: {err}");
        let err = load_folder(&dir.path().join("Bufo bufo/a.jpeg")).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
    }

    #[test]
    fn a_folder_of_only_heic_photos_names_the_format() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), &[("Hyla arborea/IMG_0000.HEIC", HEIC), ("Bufo bufo/IMG_0001.HEIC", HEIC)]);
        let err = load_folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("no photo taxa reads") && err.contains("HEIC") && err.contains("IMG_0001.HEIC"), "{err}");
    }

    /// train-folder-non-utf8-class-names: Latin-1 names read as Latin-1,
    /// distinct and readable; names that read the same are refused.
    #[test]
    fn class_names_are_readable_distinct_and_nfc() {
        assert_eq!(class_label(OsStr::new("  Bufo bufo ")), ("Bufo bufo".to_string(), false));
        assert_eq!(class_label(OsStr::new("E\u{301}pervier")).0, "\u{c9}pervier", "NFC");
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            assert_eq!(class_label(OsStr::from_bytes(b"\xc9pervier latin1")), ("\u{c9}pervier latin1".to_string(), true));
            assert_eq!(class_label(OsStr::from_bytes(b"Gr\xfcnspecht")), ("Gr\u{fc}nspecht".to_string(), true));

            let dir = tempfile::tempdir().unwrap();
            for name in [&b"\xc9pervier"[..], b"Gr\xfcnspecht", b"Rana temporaria"] {
                write(&dir.path().join(OsStr::from_bytes(name)), &[("1.jpg", JPEG)]);
            }
            let raw = load_folder(dir.path()).unwrap();
            let labels: Vec<&str> = raw.classes.iter().map(|c| c.label.as_str()).collect();
            assert_eq!(labels, ["Gr\u{fc}nspecht", "Rana temporaria", "\u{c9}pervier"]);
            assert_eq!(raw.notes.len(), 2, "{:?}", raw.notes);
            assert!(raw.notes[0].contains("Latin-1") && raw.notes[0].contains("Gr\u{fc}nspecht"), "{:?}", raw.notes);
            // The same name in UTF-8 beside its Latin-1 form is a collision.
            write(&dir.path().join("\u{c9}pervier"), &[("2.jpg", JPEG)]);
            let err = load_folder(dir.path()).unwrap_err().to_string();
            assert!(err.contains("same name to a reader") && err.contains("pervier"), "{err}");
        }
        for (a, b) in [("\u{c9}pervier", "E\u{301}pervier"), ("Bufo bufo", "bufo Bufo"), ("Bufo bufo", "BUFO BUFO ")] {
            let dir = tempfile::tempdir().unwrap();
            write(&dir.path().join(a), &[("1.jpg", JPEG)]);
            write(&dir.path().join(b), &[("1.jpg", JPEG)]);
            let result = load_folder(dir.path());
            if a.to_lowercase() == b.trim().to_lowercase() || a.nfc().eq(b.nfc()) {
                let err = result.unwrap_err().to_string();
                assert!(err.contains("same name to a reader") && err.contains(&format!("{b:?}")), "{err}");
            } else {
                assert_eq!(result.unwrap().classes.len(), 2);
            }
        }
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join(" "), &[("1.jpg", JPEG)]);
        let err = load_folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("empty name"), "{err}");
    }

    #[test]
    fn an_inat_folder_given_as_folder_points_to_inat() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("train2019.json"), "{}").unwrap();
        std::fs::create_dir_all(dir.path().join("train_val2019/Plants/0")).unwrap();
        let err = load_folder(dir.path()).unwrap_err().to_string();
        assert!(err.contains("use --inat") && err.contains("train2019.json"), "{err}");
    }
}
