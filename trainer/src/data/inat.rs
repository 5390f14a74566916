//! The iNaturalist 2019 competition format: COCO-style `train2019.json` /
//! `val2019.json` with `images`, `annotations` and `categories`; image paths
//! are relative to a root folder.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use taxa_core::Taxonomy;

use super::{ClassInfo, DataError, RawDataset, Sample};

#[derive(Deserialize)]
struct InatFile {
    images: Vec<InatImage>,
    annotations: Vec<InatAnnotation>,
    categories: Vec<InatCategory>,
}

#[derive(Deserialize)]
struct InatImage {
    id: i64,
    file_name: String,
    #[allow(dead_code)]
    width: Option<u32>,
    #[allow(dead_code)]
    height: Option<u32>,
}

#[derive(Deserialize)]
struct InatAnnotation {
    image_id: i64,
    category_id: i64,
}

#[derive(Deserialize, Clone)]
struct InatCategory {
    id: i64,
    name: String,
    kingdom: Option<String>,
    phylum: Option<String>,
    class: Option<String>,
    order: Option<String>,
    family: Option<String>,
    genus: Option<String>,
}

fn read(path: &Path) -> Result<InatFile, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io { path: path.into(), source })?;
    serde_json::from_slice(&bytes).map_err(|e| DataError::Json { path: path.into(), line: e.line(), column: e.column(), message: e.to_string() })
}

/// Loads `train_json` (and `val_json`) with image paths under `root`.
/// Classes are ordered by category id.
pub fn load_inat(root: &Path, train_json: &Path, val_json: Option<&Path>) -> Result<RawDataset, DataError> {
    let train_file = read(train_json)?;
    let mut categories = train_file.categories.clone();
    categories.sort_by_key(|c| c.id);
    if let Some(w) = categories.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(DataError::Invalid { path: train_json.into(), message: format!("category id {} appears twice", w[0].id) });
    }
    let index: HashMap<i64, usize> = categories.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let classes = categories
        .iter()
        .map(|c| ClassInfo {
            label: c.name.clone(),
            taxonomy: Taxonomy {
                kingdom: c.kingdom.clone(),
                phylum: c.phylum.clone(),
                class: c.class.clone(),
                order: c.order.clone(),
                family: c.family.clone(),
                genus: c.genus.clone(),
                species: c.name.clone(),
                common_name: None,
            },
        })
        .collect();
    let train = samples(root, train_json, train_file, &index)?;
    let val = val_json.map(|path| read(path).and_then(|file| samples(root, path, file, &index))).transpose()?;
    Ok(RawDataset { classes, train, val })
}

fn samples(root: &Path, path: &Path, file: InatFile, index: &HashMap<i64, usize>) -> Result<Vec<Sample>, DataError> {
    let invalid = |message: String| DataError::Invalid { path: path.into(), message };
    let images: HashMap<i64, &InatImage> = file.images.iter().map(|i| (i.id, i)).collect();
    let mut out = Vec::with_capacity(file.annotations.len());
    for (n, a) in file.annotations.iter().enumerate() {
        let image = images.get(&a.image_id).ok_or_else(|| invalid(format!("annotations[{n}]: image_id {} is not in images", a.image_id)))?;
        let class = *index.get(&a.category_id).ok_or_else(|| invalid(format!("annotations[{n}]: category_id {} is not in categories", a.category_id)))?;
        if image.file_name.is_empty() {
            return Err(invalid(format!("image {}: empty file_name", image.id)));
        }
        out.push(Sample { path: root.join(&image.file_name), class });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    const CATS: &str = r#""categories": [{"id": 7, "name": "Rana b", "genus": "Rana", "kingdom": "Animalia"},
                                        {"id": 3, "name": "Rana a", "genus": "Rana", "kingdom": "Animalia"}]"#;

    #[test]
    fn loads_images_annotations_and_taxonomy() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.json", &format!(
            r#"{{"images": [{{"id": 1, "file_name": "a/1.jpg", "width": 10, "height": 10}}, {{"id": 2, "file_name": "b/2.jpg"}}],
                "annotations": [{{"image_id": 1, "category_id": 3}}, {{"image_id": 2, "category_id": 7}}], {CATS}}}"#));
        let raw = load_inat(dir.path(), &train, None).unwrap();
        assert_eq!(raw.classes[0].label, "Rana a", "sorted by category id");
        assert_eq!(raw.classes[1].taxonomy.genus.as_deref(), Some("Rana"));
        assert_eq!(raw.train[0], Sample { path: dir.path().join("a/1.jpg"), class: 0 });
        assert_eq!(raw.train[1].class, 1);
    }

    #[test]
    fn broken_files_name_the_line_or_field() {
        let dir = tempfile::tempdir().unwrap();
        let bad_json = write(dir.path(), "bad.json", "{\n  \"images\": [\n    {\"id\": 1, \"file_name\": }\n  ]\n}");
        let err = load_inat(dir.path(), &bad_json, None).unwrap_err();
        assert!(matches!(&err, DataError::Json { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("bad.json: line 3"), "{err}");

        let missing = write(dir.path(), "missing.json", &format!(r#"{{"images": [{{"id": 1}}], "annotations": [], {CATS}}}"#));
        let err = load_inat(dir.path(), &missing, None).unwrap_err();
        assert!(err.to_string().contains("missing field `file_name`"), "{err}");

        let dangling = write(dir.path(), "dangling.json", &format!(
            r#"{{"images": [{{"id": 1, "file_name": "x.jpg"}}], "annotations": [{{"image_id": 1, "category_id": 99}}], {CATS}}}"#));
        let err = load_inat(dir.path(), &dangling, None).unwrap_err();
        assert!(err.to_string().contains("annotations[0]: category_id 99"), "{err}");

        let no_file = dir.path().join("absent.json");
        assert!(matches!(load_inat(dir.path(), &no_file, None), Err(DataError::Io { .. })));
    }
}
