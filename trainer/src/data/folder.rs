//! A folder-per-class layout: `root/<class name>/<image>`. Classes are the
//! sorted folder names; the name is the label and the species.

use std::path::Path;

use taxa_core::Taxonomy;

use super::{ClassInfo, DataError, RawDataset, Sample};

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"];

pub fn load_folder(root: &Path) -> Result<RawDataset, DataError> {
    let io = |source| DataError::Io { path: root.into(), source };
    let mut class_dirs: Vec<_> = std::fs::read_dir(root).map_err(io)?.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
    class_dirs.sort();
    if class_dirs.is_empty() {
        return Err(DataError::Invalid { path: root.into(), message: "no class folders (expected root/<class>/<image>)".into() });
    }
    let mut classes = Vec::new();
    let mut train = Vec::new();
    for (class, dir) in class_dirs.iter().enumerate() {
        let label = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|source| DataError::Io { path: dir.clone(), source })?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str())))
            .collect();
        files.sort();
        train.extend(files.into_iter().map(|path| Sample { path, class }));
        classes.push(ClassInfo { taxonomy: Taxonomy::species_only(label.clone()), label });
    }
    Ok(RawDataset { classes, train, val: None })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(load_folder(&dir.path().join("Bufo bufo")).is_err(), "no class folders");
    }
}
