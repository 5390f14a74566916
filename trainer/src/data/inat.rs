//! The iNaturalist competition layouts (visipedia/inat_comp): COCO-style
//! JSON files with `images`, `annotations` and `categories`; image paths
//! (`file_name`) are relative to the folder that holds the JSON files.
//!
//! | year | training / validation files | categories carry |
//! |---|---|---|
//! | 2017 | `train2017.json` / `val2017.json` | `name`, `supercategory` |
//! | 2018 | `train2018.json` / `val2018.json` (+ `categories.json`) | `name`, `supercategory`, `kingdom` … `genus` |
//! | 2019 | `train2019.json` / `val2019.json` (+ `categories.json`) | `name`, `kingdom` … `genus` |
//! | 2021 | `train.json` or `train_mini.json` / `val.json` | the above, `common_name`, `specific_epithet`, `image_dir_name` |
//!
//! The 2018 and 2019 files shipped obfuscated category names; the
//! un-obfuscated list was published later as `categories.json` ("replace the
//! `categories` list in the dataset files with this list"), which is used
//! when it lies beside the training file. Image fields beyond `id` and
//! `file_name` (2021's nullable `latitude`, `longitude`,
//! `location_uncertainty`, `date`) are not needed for training and ignored.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use taxa_core::{HigherRanks, Taxonomy};

use super::inat_records::{InatCategory, InatFile, read_json};
use super::{ClassInfo, DataError, RawDataset, Sample};

/// The ranks above species that iNaturalist's Latin supercategories (2017,
/// 2018) name: (kingdom, phylum, class).
fn supercategory_ranks(name: &str) -> Option<(&'static str, Option<&'static str>, Option<&'static str>)> {
    Some(match name {
        "Plantae" => ("Plantae", None, None),
        "Fungi" => ("Fungi", None, None),
        "Animalia" => ("Animalia", None, None),
        "Protozoa" => ("Protozoa", None, None),
        "Chromista" => ("Chromista", None, None),
        "Bacteria" => ("Bacteria", None, None),
        "Mollusca" => ("Animalia", Some("Mollusca"), None),
        "Insecta" => ("Animalia", Some("Arthropoda"), Some("Insecta")),
        "Arachnida" => ("Animalia", Some("Arthropoda"), Some("Arachnida")),
        "Aves" => ("Animalia", Some("Chordata"), Some("Aves")),
        "Mammalia" => ("Animalia", Some("Chordata"), Some("Mammalia")),
        "Reptilia" => ("Animalia", Some("Chordata"), Some("Reptilia")),
        "Amphibia" => ("Animalia", Some("Chordata"), Some("Amphibia")),
        "Actinopterygii" => ("Animalia", Some("Chordata"), Some("Actinopterygii")),
        _ => return None,
    })
}

impl InatCategory {
    fn taxonomy(&self) -> Taxonomy {
        let known = |v: &Option<String>| v.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(str::to_string);
        let r = &self.ranks;
        let mut ranks = HigherRanks {
            kingdom: known(&r.kingdom),
            phylum: known(&r.phylum),
            class: known(&r.class),
            order: known(&r.order),
            family: known(&r.family),
            genus: known(&r.genus),
        };
        // 2017 names only a supercategory; it is the one higher rank it has.
        if ranks.kingdom.is_none()
            && ranks.phylum.is_none()
            && ranks.class.is_none()
            && let Some((kingdom, phylum, class)) = self.supercategory.as_deref().and_then(supercategory_ranks)
        {
            ranks.kingdom = Some(kingdom.into());
            ranks.phylum = phylum.map(Into::into);
            ranks.class = class.map(Into::into);
        }
        Taxonomy { ranks, species: self.name.clone(), common_name: known(&self.common_name) }
    }
}

/// `categories.json`: a list of categories, or an object holding one.
fn read_categories(path: &Path) -> Result<Vec<InatCategory>, DataError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Categories {
        List(Vec<InatCategory>),
        File { categories: Vec<InatCategory> },
    }
    let bytes = std::fs::read(path).map_err(|error| DataError::Io { path: path.into(), error })?;
    match serde_json::from_slice::<Categories>(&bytes) {
        Ok(Categories::List(c) | Categories::File { categories: c }) => Ok(c),
        Err(e) => Err(DataError::Invalid { path: path.into(), message: format!("not a list of iNaturalist categories (id, name, kingdom … genus): {e}") }),
    }
}

/// Loads `train_json` (and `val_json`) with image paths under `root`.
/// Classes are ordered by category id; with `categories_json`, its entries
/// replace the training file's categories of the same id (un-obfuscated
/// names and taxonomy). Each class keeps the taxonomy its category carries,
/// `common_name` included.
pub fn load_inat(root: &Path, train_json: &Path, val_json: Option<&Path>, categories_json: Option<&Path>) -> Result<RawDataset, DataError> {
    let train_file: InatFile = read_json(train_json)?;
    let mut categories = train_file.categories.clone();
    if let Some(path) = categories_json {
        let named: HashMap<i64, InatCategory> = read_categories(path)?.into_iter().map(|c| (c.id, c)).collect();
        for c in &mut categories {
            *c = named.get(&c.id).cloned().ok_or_else(|| DataError::Invalid {
                path: path.into(),
                message: format!("has no category with id {} (used in {}); is it from another year?", c.id, train_json.display()),
            })?;
        }
    }
    categories.sort_by_key(|c| c.id);
    if let Some(w) = categories.windows(2).find(|w| w[0].id == w[1].id) {
        return Err(DataError::Invalid { path: train_json.into(), message: format!("category id {} appears twice", w[0].id) });
    }
    let index: HashMap<i64, usize> = categories.iter().enumerate().map(|(i, c)| (c.id, i)).collect();
    let classes = categories.iter().map(|c| ClassInfo { label: c.name.clone(), taxonomy: c.taxonomy() }).collect();
    let train = samples(root, train_json, train_file, &index)?;
    let val = val_json.map(|path| read_json(path).and_then(|file| samples(root, path, file, &index))).transpose()?;
    Ok(RawDataset { classes, train, val, skipped: Vec::new(), notes: Vec::new() })
}

fn samples(root: &Path, path: &Path, file: InatFile, index: &HashMap<i64, usize>) -> Result<Vec<Sample>, DataError> {
    let invalid = |message: String| DataError::Invalid { path: path.into(), message };
    let annotations = file.annotations.ok_or_else(|| invalid("has no `annotations` (a competition test file has none); pass a training or validation file".into()))?;
    let images: HashMap<i64, &str> = file.images.iter().map(|i| (i.id, i.file_name.as_str())).collect();
    let mut out = Vec::with_capacity(annotations.len());
    for (n, a) in annotations.iter().enumerate() {
        let file_name = *images.get(&a.image_id).ok_or_else(|| invalid(format!("annotations[{n}]: image_id {} is not in images", a.image_id)))?;
        let class = *index.get(&a.category_id).ok_or_else(|| invalid(format!("annotations[{n}]: category_id {} is not in categories", a.category_id)))?;
        if file_name.is_empty() {
            return Err(invalid(format!("image {}: empty file_name", a.image_id)));
        }
        out.push(Sample { path: root.join(file_name), class });
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
        let raw = load_inat(dir.path(), &train, None, None).unwrap();
        assert_eq!(raw.classes[0].label, "Rana a", "sorted by category id");
        assert_eq!(raw.classes[1].taxonomy.ranks.genus.as_deref(), Some("Rana"));
        assert_eq!(raw.train[0], Sample { path: dir.path().join("a/1.jpg"), class: 0 });
        assert_eq!(raw.train[1].class, 1);
    }

    #[test]
    fn the_2021_fields_nulls_included_and_common_names() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.json", r#"{"info": {"year": 2021}, "licenses": [],
            "images": [{"id": 1, "file_name": "train/00000_x/1.jpg", "width": null, "height": 40, "date": "2020-06-01 09:30:00+00:00",
                        "latitude": null, "longitude": null, "location_uncertainty": null},
                       {"id": 2, "file_name": "train/00000_x/2.jpg", "latitude": 48.1, "longitude": 11.6, "location_uncertainty": -80}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 0}, {"id": 2, "image_id": 2, "category_id": 0}],
            "categories": [{"id": 0, "name": "Rana temporaria", "common_name": "Common Frog", "supercategory": "Amphibians",
                            "kingdom": "Animalia", "phylum": "Chordata", "class": "Amphibia", "order": "Anura", "family": "Ranidae",
                            "genus": "Rana", "specific_epithet": "temporaria", "image_dir_name": "00000_x"}]}"#);
        let raw = load_inat(dir.path(), &train, None, None).unwrap();
        assert_eq!(raw.train.len(), 2);
        let t = &raw.classes[0].taxonomy;
        assert_eq!((t.common_name.as_deref(), t.ranks.class.as_deref(), t.species.as_str()), (Some("Common Frog"), Some("Amphibia"), "Rana temporaria"));
    }

    #[test]
    fn the_2017_supercategory_gives_the_higher_ranks() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train2017.json", r#"{"images": [{"id": 1, "file_name": "train_val_images/Aves/Pica pica/1.jpg"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 0}],
            "categories": [{"id": 0, "name": "Pica pica", "supercategory": "Aves"}, {"id": 1, "name": "Bellis perennis", "supercategory": "Plantae"},
                           {"id": 2, "name": "Something", "supercategory": "Birds"}]}"#);
        let raw = load_inat(dir.path(), &train, None, None).unwrap();
        let t = &raw.classes[0].taxonomy;
        assert_eq!((t.ranks.kingdom.as_deref(), t.ranks.phylum.as_deref(), t.ranks.class.as_deref()), (Some("Animalia"), Some("Chordata"), Some("Aves")));
        assert_eq!(raw.classes[1].taxonomy.ranks.kingdom.as_deref(), Some("Plantae"));
        assert_eq!(raw.classes[1].taxonomy.ranks.class, None);
        assert_eq!(raw.classes[2].taxonomy, Taxonomy::species_only("Something"), "an English group name is not a rank");
    }

    #[test]
    fn categories_json_replaces_obfuscated_names() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train2018.json", r#"{"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [{"image_id": 1, "category_id": 5}],
            "categories": [{"id": 5, "name": 5, "supercategory": "Plantae"}]}"#);
        let cats = write(dir.path(), "categories.json", r#"[{"id": 5, "name": "Bellis perennis", "supercategory": "Plantae", "kingdom": "Plantae",
            "phylum": "Tracheophyta", "class": "Magnoliopsida", "order": "Asterales", "family": "Asteraceae", "genus": "Bellis"}]"#);
        let obfuscated = load_inat(dir.path(), &train, None, None).unwrap();
        assert_eq!(obfuscated.classes[0].label, "5", "a numeric name is read as text");
        let raw = load_inat(dir.path(), &train, None, Some(&cats)).unwrap();
        assert_eq!(raw.classes[0].label, "Bellis perennis");
        assert_eq!(raw.classes[0].taxonomy.ranks.family.as_deref(), Some("Asteraceae"));
        let other = write(dir.path(), "other.json", r#"[{"id": 6, "name": "Bellis perennis"}]"#);
        let err = load_inat(dir.path(), &train, None, Some(&other)).unwrap_err().to_string();
        assert!(err.contains("other.json") && err.contains("no category with id 5"), "{err}");
    }

    #[test]
    fn broken_files_name_the_line_or_field() {
        let dir = tempfile::tempdir().unwrap();
        let bad_json = write(dir.path(), "bad.json", "{\n  \"images\": [\n    {\"id\": 1, \"file_name\": }\n  ]\n}");
        let err = load_inat(dir.path(), &bad_json, None, None).unwrap_err();
        assert!(matches!(&err, DataError::Json { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("bad.json: line 3"), "{err}");

        let missing = write(dir.path(), "missing.json", &format!(r#"{{"images": [{{"id": 1}}], "annotations": [], {CATS}}}"#));
        let err = load_inat(dir.path(), &missing, None, None).unwrap_err();
        assert!(err.to_string().contains("missing field `file_name`"), "{err}");

        let dangling = write(dir.path(), "dangling.json", &format!(
            r#"{{"images": [{{"id": 1, "file_name": "x.jpg"}}], "annotations": [{{"image_id": 1, "category_id": 99}}], {CATS}}}"#));
        let err = load_inat(dir.path(), &dangling, None, None).unwrap_err();
        assert!(err.to_string().contains("annotations[0]: category_id 99"), "{err}");

        let test_file = write(dir.path(), "public_test.json", &format!(r#"{{"images": [{{"id": 1, "file_name": "x.jpg"}}], {CATS}}}"#));
        let err = load_inat(dir.path(), &test_file, None, None).unwrap_err();
        assert!(err.to_string().contains("has no `annotations`"), "{err}");

        let no_file = dir.path().join("absent.json");
        let err = load_inat(dir.path(), &no_file, None, None).unwrap_err();
        assert!(matches!(err, DataError::Io { .. }));
        assert_eq!(format!("{:#}", anyhow::Error::from(err)).matches("os error").count(), 1, "the OS error once");
    }
}
