//! A folder-per-class layout: `root/<class name>/<image>`. Classes are the
//! sorted folder names; the name is the label and the species.

use std::path::Path;

use taxa_core::Taxonomy;

use super::{ClassInfo, DataError, RawDataset, Sample};

/// File extensions read as images (case-insensitive).
pub const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

/// What operating systems, NAS boxes and zip tools leave in a photo
/// collection: never a class or a photo. Hidden names (`.DS_Store`, macOS's
/// `._*` AppleDouble files, `.Trashes`, `.thumbnails`), Synology's `@eaDir`
/// and `#recycle`, QNAP's `@Recycle` and `.@__thumb`, `__MACOSX` from zips,
/// Windows' `Thumbs.db`, `desktop.ini`, `$RECYCLE.BIN` and `System Volume
/// Information`.
pub fn is_system_entry(name: &std::ffi::OsStr) -> bool {
    let name = name.to_string_lossy();
    const NAMES: [&str; 8] =
        ["@eaDir", "#recycle", "@Recycle", "@Recently-Snapshot", "__MACOSX", "Thumbs.db", "desktop.ini", "System Volume Information"];
    name.starts_with('.') || name.starts_with('$') || NAMES.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Loads `root/<class>/<image>`: one class per sub-folder (sorted by name),
/// images recognised by extension ([`IMAGE_EXTENSIONS`]); system folders and
/// files ([`is_system_entry`]) are neither.
///
/// Errors name `root` and say what it holds: a missing or unreadable folder,
/// a file instead of a folder, no class folders (with a pointer to `--inat`
/// when the folder holds iNaturalist JSON files), or class folders without
/// images.
pub fn load_folder(root: &Path) -> Result<RawDataset, DataError> {
    let invalid = |message: String| DataError::Invalid { path: root.into(), message };
    if root.is_file() {
        return Err(invalid("is a file; --folder takes a folder that holds one sub-folder per class (root/<class>/<image>)".into()));
    }
    let entries = std::fs::read_dir(root).map_err(|error| DataError::Io { path: root.into(), error })?;
    let mut class_dirs: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter(|e| !is_system_entry(&e.file_name()))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    class_dirs.sort();
    if class_dirs.is_empty() {
        let inat = super::inat_layout::looks_like_inat(root);
        let hint = if inat { " (iNaturalist annotation files: use --inat instead of --folder)" } else { "" };
        return Err(invalid(format!(
            "no class folders (expected root/<class>/<image>); it holds {}{hint}",
            super::folder_listing(root, 12)
        )));
    }
    let mut classes = Vec::new();
    let mut train = Vec::new();
    for (class, dir) in class_dirs.iter().enumerate() {
        let label = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|error| DataError::Io { path: dir.clone(), error })?
            .filter_map(|e| e.ok())
            .filter(|e| !is_system_entry(&e.file_name()))
            .map(|e| e.path())
            .filter(|p| !p.is_dir())
            .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())))
            .collect();
        files.sort();
        train.extend(files.into_iter().map(|path| Sample { path, class }));
        classes.push(ClassInfo { taxonomy: Taxonomy::species_only(label.clone()), label });
    }
    if train.is_empty() {
        let inat = super::inat_layout::looks_like_inat(root);
        let hint = if inat { " (iNaturalist annotation files: use --inat instead of --folder)" } else { "" };
        return Err(invalid(format!(
            "{} class folders but no images in them (image files end in .{}); it holds {}{hint}",
            class_dirs.len(),
            IMAGE_EXTENSIONS.join(", ."),
            super::folder_listing(root, 12)
        )));
    }
    Ok(RawDataset { classes, train, val: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// train-folder-system-folders: a Synology `@eaDir` at the root and macOS
    /// files beside the photos; and the rest of the kind.
    #[test]
    fn system_folders_and_files_are_neither_classes_nor_photos() {
        let dir = tempfile::tempdir().unwrap();
        let frog = dir.path().join("Rana temporaria");
        std::fs::create_dir(&frog).unwrap();
        for f in ["IMG_0001.jpg", "._IMG_0001.jpg", ".DS_Store", "Thumbs.db", "desktop.ini"] {
            std::fs::write(frog.join(f), b"x").unwrap();
        }
        std::fs::create_dir(frog.join("IMG_0002.jpg")).unwrap(); // a folder named like a photo
        for system in ["@eaDir", "__MACOSX", ".Trashes", "#recycle", "$RECYCLE.BIN", "System Volume Information", ".@__thumb"] {
            std::fs::create_dir(dir.path().join(system)).unwrap();
            std::fs::write(dir.path().join(system).join("IMG_0000.jpg"), b"x").unwrap();
        }
        let raw = load_folder(dir.path()).unwrap();
        assert_eq!(raw.classes.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["Rana temporaria"]);
        assert_eq!(raw.train.iter().map(|s| s.path.file_name().unwrap().to_str().unwrap()).collect::<Vec<_>>(), ["IMG_0001.jpg"]);
    }

    #[test]
    fn folders_are_classes() {
        let dir = tempfile::tempdir().unwrap();
        for (class, files) in [("Rana arvalis", vec!["1.jpg", "2.PNG", "notes.txt"]), ("Bufo bufo", vec!["a.jpeg"])] {
            std::fs::create_dir(dir.path().join(class)).unwrap();
            for f in files {
                std::fs::write(dir.path().join(class).join(f), b"x").unwrap();
            }
        }
        let raw = load_folder(dir.path()).unwrap();
        assert_eq!(raw.classes.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["Bufo bufo", "Rana arvalis"]);
        assert_eq!(raw.train.len(), 3, "notes.txt is not an image");
        assert_eq!(raw.train.iter().filter(|s| s.class == 1).count(), 2);
        let err = load_folder(&dir.path().join("Bufo bufo")).unwrap_err().to_string();
        assert!(err.contains("no class folders") && err.contains("a.jpeg"), "says what is there: {err}");
        let err = load_folder(&dir.path().join("Bufo bufo/a.jpeg")).unwrap_err().to_string();
        assert!(err.contains("is a file"), "{err}");
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
