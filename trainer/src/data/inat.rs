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
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};
use taxa_core::Taxonomy;

use super::{ClassInfo, DataError, RawDataset, Sample, folder_listing};

/// One iNaturalist competition layout, known by its file names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InatLayout {
    Inat2017,
    Inat2018,
    Inat2019,
    /// 2021 with the full training list (`train.json`).
    Inat2021,
    /// 2021 with the smaller training list (`train_mini.json`).
    Inat2021Mini,
    /// A COCO-style file with another name, given as a file path.
    Other,
}

impl InatLayout {
    /// The known layouts, newest first (the order folders are searched in).
    pub const KNOWN: [InatLayout; 5] = [InatLayout::Inat2021, InatLayout::Inat2021Mini, InatLayout::Inat2019, InatLayout::Inat2018, InatLayout::Inat2017];

    /// The training annotation file's name.
    pub fn train_file(self) -> Option<&'static str> {
        Some(match self {
            InatLayout::Inat2017 => "train2017.json",
            InatLayout::Inat2018 => "train2018.json",
            InatLayout::Inat2019 => "train2019.json",
            InatLayout::Inat2021 => "train.json",
            InatLayout::Inat2021Mini => "train_mini.json",
            InatLayout::Other => return None,
        })
    }

    /// The validation annotation file's name.
    pub fn val_file(self) -> Option<&'static str> {
        Some(match self {
            InatLayout::Inat2017 => "val2017.json",
            InatLayout::Inat2018 => "val2018.json",
            InatLayout::Inat2019 => "val2019.json",
            InatLayout::Inat2021 | InatLayout::Inat2021Mini => "val.json",
            InatLayout::Other => return None,
        })
    }

    /// The layout whose training file is called `name`.
    pub fn of_train_file(name: &str) -> Option<InatLayout> {
        InatLayout::KNOWN.into_iter().find(|l| l.train_file() == Some(name))
    }

    /// The layout whose validation file is called `name`.
    pub fn of_val_file(name: &str) -> Option<InatLayout> {
        InatLayout::KNOWN.into_iter().find(|l| l.val_file() == Some(name))
    }

    /// The competition year, for grouping `train.json` and `train_mini.json`.
    fn year(self) -> Option<u32> {
        match self {
            InatLayout::Inat2017 => Some(2017),
            InatLayout::Inat2018 => Some(2018),
            InatLayout::Inat2019 => Some(2019),
            InatLayout::Inat2021 | InatLayout::Inat2021Mini => Some(2021),
            InatLayout::Other => None,
        }
    }

    /// "train.json (2021; train_mini.json with --train-mini), train2019.json (2019), …":
    /// the file names taxa looks for, for error messages.
    pub fn expected_files() -> String {
        "train.json or train_mini.json with val.json (iNaturalist 2021), train2019.json with val2019.json (2019), \
         train2018.json with val2018.json (2018), train2017.json with val2017.json (2017)"
            .into()
    }
}

impl fmt::Display for InatLayout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InatLayout::Inat2017 => "iNaturalist 2017",
            InatLayout::Inat2018 => "iNaturalist 2018",
            InatLayout::Inat2019 => "iNaturalist 2019",
            InatLayout::Inat2021 => "iNaturalist 2021",
            InatLayout::Inat2021Mini => "iNaturalist 2021 (train_mini)",
            InatLayout::Other => "iNaturalist-style (COCO) annotations",
        })
    }
}

/// The files of one iNaturalist dataset, as [`find_inat`] found them.
#[derive(Debug, Clone, PartialEq)]
pub struct InatFiles {
    pub layout: InatLayout,
    /// The folder image paths are relative to (the JSON files' folder).
    pub root: PathBuf,
    pub train_json: PathBuf,
    /// The layout's validation file, when it is there.
    pub val_json: Option<PathBuf>,
    /// Un-obfuscated categories (`categories.json` beside the training file).
    pub categories_json: Option<PathBuf>,
}

impl InatFiles {
    /// One line for the user: which layout and which files.
    pub fn describe(&self) -> String {
        let name = |p: &Path| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let kind = if self.layout == InatLayout::Other { self.layout.to_string() } else { format!("{} layout", self.layout) };
        let mut text = format!("{kind} in {}: {} (training)", self.root.display(), name(&self.train_json));
        match (&self.val_json, self.layout.val_file()) {
            (Some(val), _) => text.push_str(&format!(", {} (validation)", name(val))),
            (None, Some(expected)) => text.push_str(&format!(", no {expected}")),
            (None, None) => {}
        }
        if let Some(c) = &self.categories_json {
            text.push_str(&format!(", category names from {}", name(c)));
        }
        text
    }
}

/// Whether `dir` holds an iNaturalist training or validation file.
pub(crate) fn looks_like_inat(dir: &Path) -> bool {
    InatLayout::KNOWN.iter().any(|l| [l.train_file(), l.val_file()].into_iter().flatten().any(|f| dir.join(f).is_file()))
}

/// Finds the iNaturalist files at `path`: a folder holding one year's
/// training file (see the module table), or a training JSON file itself.
/// `train_mini` picks 2021's `train_mini.json` over `train.json` (a 2021
/// folder with only `train_mini.json` uses it without the flag).
///
/// # Errors
/// [`DataError::Io`] when `path` cannot be read (the OS error, once);
/// [`DataError::Invalid`] naming `path`, the file names looked for and what
/// the folder holds when no known layout is there, when several years'
/// training files are, when a validation file or a downloaded archive is
/// given instead of the training file, or when `train_mini` does not fit.
pub fn find_inat(path: &Path, train_mini: bool) -> Result<InatFiles, DataError> {
    let invalid = |message: String| DataError::Invalid { path: path.into(), message };
    let meta = std::fs::metadata(path).map_err(|error| DataError::Io { path: path.into(), error })?;
    let categories = |root: &Path| Some(root.join("categories.json")).filter(|p| p.is_file());

    if meta.is_file() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if [".tar.gz", ".tgz", ".zip", ".tar"].iter().any(|ext| name.ends_with(ext)) {
            return Err(invalid(format!("is an archive; unpack it and pass the folder that holds the JSON files ({})", InatLayout::expected_files())));
        }
        if let Some(layout) = InatLayout::of_val_file(&name) {
            return Err(invalid(format!(
                "is the {layout} validation file; pass the training file ({}) or the folder that holds both",
                layout.train_file().expect("known layout")
            )));
        }
        let layout = InatLayout::of_train_file(&name).unwrap_or(InatLayout::Other);
        if train_mini && layout != InatLayout::Inat2021Mini {
            return Err(invalid("--train-mini picks train_mini.json in a folder; pass the folder or train_mini.json itself".into()));
        }
        let root = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let val_json = layout.val_file().map(|f| root.join(f)).filter(|p| p.is_file());
        let categories_json = categories(&root);
        return Ok(InatFiles { layout, train_json: path.to_path_buf(), val_json, categories_json, root });
    }

    let present: Vec<InatLayout> = InatLayout::KNOWN.into_iter().filter(|l| path.join(l.train_file().expect("known")).is_file()).collect();
    let mut years: Vec<u32> = present.iter().filter_map(|l| l.year()).collect();
    years.dedup();
    if years.len() > 1 {
        let files: Vec<&str> = present.iter().filter_map(|l| l.train_file()).collect();
        return Err(invalid(format!(
            "holds the training files of several iNaturalist layouts ({}); pass the one to use as the --inat path (e.g. {})",
            files.join(", "),
            path.join(files[0]).display()
        )));
    }
    let layout = match (present.as_slice(), train_mini) {
        ([], _) => {
            let val_only: Vec<&str> = InatLayout::KNOWN.iter().filter_map(|l| l.val_file()).filter(|f| path.join(f).is_file()).collect();
            let mut message = format!("no iNaturalist training file here; taxa looks for {}; the folder holds {}", InatLayout::expected_files(), folder_listing(path, 20));
            let archives = std::fs::read_dir(path).into_iter().flatten().filter_map(|e| e.ok()).any(|e| e.file_name().to_string_lossy().ends_with(".json.tar.gz"));
            if archives {
                message.push_str(" (unpack the downloaded .json.tar.gz archives here first)");
            } else if let Some(val) = val_only.first() {
                message.push_str(&format!(" (only the validation file {val}: the training file is a separate download)"));
            } else if has_class_folders_with_images(path) {
                message.push_str(" (for one folder of images per class, use --folder)");
            }
            return Err(invalid(message));
        }
        (found, true) => {
            if !found.contains(&InatLayout::Inat2021Mini) {
                return Err(invalid(format!("--train-mini: no train_mini.json here (the {} layout has {}); the folder holds {}", found[0], found[0].train_file().expect("known"), folder_listing(path, 20))));
            }
            InatLayout::Inat2021Mini
        }
        ([only], false) => *only,
        (found, false) => found[0], // train.json and train_mini.json: the full list
    };
    let train_json = path.join(layout.train_file().expect("known"));
    let val_json = layout.val_file().map(|f| path.join(f)).filter(|p| p.is_file());
    Ok(InatFiles { layout, root: path.to_path_buf(), train_json, val_json, categories_json: categories(path) })
}

fn has_class_folders_with_images(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()).take(50).any(|class| {
        std::fs::read_dir(class.path()).into_iter().flatten().filter_map(|e| e.ok()).take(50).any(|f| {
            f.path().extension().and_then(|e| e.to_str()).is_some_and(|e| super::folder::IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
        })
    })
}

#[derive(Deserialize)]
struct InatFile {
    images: Vec<InatImage>,
    /// Absent in the competitions' test files.
    annotations: Option<Vec<InatAnnotation>>,
    categories: Vec<InatCategory>,
}

#[derive(Deserialize)]
struct InatImage {
    id: i64,
    file_name: String,
}

#[derive(Deserialize)]
struct InatAnnotation {
    image_id: i64,
    category_id: i64,
}

#[derive(Deserialize, Clone)]
struct InatCategory {
    id: i64,
    /// A string in every year; obfuscated lists may hold numbers.
    #[serde(deserialize_with = "string_or_number")]
    name: String,
    kingdom: Option<String>,
    phylum: Option<String>,
    class: Option<String>,
    order: Option<String>,
    family: Option<String>,
    genus: Option<String>,
    /// 2021.
    common_name: Option<String>,
    /// 2017, 2018 (a taxon name such as `Aves` or `Plantae`), 2021 (an iconic group such as `Birds`).
    supercategory: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string, found {other}"))),
    }
}

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
        let mut t = Taxonomy {
            kingdom: known(&self.kingdom),
            phylum: known(&self.phylum),
            class: known(&self.class),
            order: known(&self.order),
            family: known(&self.family),
            genus: known(&self.genus),
            species: self.name.clone(),
            common_name: known(&self.common_name),
        };
        // 2017 names only a supercategory; it is the one higher rank it has.
        if t.kingdom.is_none() && t.phylum.is_none() && t.class.is_none() {
            if let Some((kingdom, phylum, class)) = self.supercategory.as_deref().and_then(supercategory_ranks) {
                t.kingdom = Some(kingdom.into());
                t.phylum = phylum.map(Into::into);
                t.class = class.map(Into::into);
            }
        }
        t
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    let bytes = std::fs::read(path).map_err(|error| DataError::Io { path: path.into(), error })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let mut message = e.to_string().replacen(&format!(" at line {} column {}", e.line(), e.column()), "", 1);
        if e.classify() == serde_json::error::Category::Data {
            message.push_str(" (expected an iNaturalist/COCO-style annotation file: images, annotations, categories)");
        }
        DataError::Json { path: path.into(), line: e.line(), column: e.column(), message }
    })
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
    Ok(RawDataset { classes, train, val })
}

fn samples(root: &Path, path: &Path, file: InatFile, index: &HashMap<i64, usize>) -> Result<Vec<Sample>, DataError> {
    let invalid = |message: String| DataError::Invalid { path: path.into(), message };
    let annotations = file.annotations.ok_or_else(|| invalid("has no `annotations` (a competition test file has none); pass a training or validation file".into()))?;
    let images: HashMap<i64, &InatImage> = file.images.iter().map(|i| (i.id, i)).collect();
    let mut out = Vec::with_capacity(annotations.len());
    for (n, a) in annotations.iter().enumerate() {
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
        let raw = load_inat(dir.path(), &train, None, None).unwrap();
        assert_eq!(raw.classes[0].label, "Rana a", "sorted by category id");
        assert_eq!(raw.classes[1].taxonomy.genus.as_deref(), Some("Rana"));
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
        assert_eq!((t.common_name.as_deref(), t.class.as_deref(), t.species.as_str()), (Some("Common Frog"), Some("Amphibia"), "Rana temporaria"));
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
        assert_eq!((t.kingdom.as_deref(), t.phylum.as_deref(), t.class.as_deref()), (Some("Animalia"), Some("Chordata"), Some("Aves")));
        assert_eq!(raw.classes[1].taxonomy.kingdom.as_deref(), Some("Plantae"));
        assert_eq!(raw.classes[1].taxonomy.class, None);
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
        assert_eq!(raw.classes[0].taxonomy.family.as_deref(), Some("Asteraceae"));
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

    #[test]
    fn finds_each_years_layout_in_a_folder() {
        for (train, val, layout) in [
            ("train2017.json", "val2017.json", InatLayout::Inat2017),
            ("train2018.json", "val2018.json", InatLayout::Inat2018),
            ("train2019.json", "val2019.json", InatLayout::Inat2019),
            ("train.json", "val.json", InatLayout::Inat2021),
            ("train_mini.json", "val.json", InatLayout::Inat2021Mini),
        ] {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), train, "{}");
            let found = find_inat(dir.path(), false).unwrap();
            assert_eq!((found.layout, found.val_json.clone()), (layout, None), "{train}");
            assert!(found.describe().contains(&format!("no {val}")), "{}", found.describe());
            write(dir.path(), val, "{}");
            let found = find_inat(dir.path(), false).unwrap();
            assert_eq!(found.train_json, dir.path().join(train));
            assert_eq!(found.val_json, Some(dir.path().join(val)));
            assert!(found.describe().starts_with(&layout.to_string()), "{}", found.describe());
        }
    }

    #[test]
    fn train_mini_is_a_choice() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["train.json", "train_mini.json", "val.json", "categories.json"] {
            write(dir.path(), f, "{}");
        }
        assert_eq!(find_inat(dir.path(), false).unwrap().layout, InatLayout::Inat2021);
        let mini = find_inat(dir.path(), true).unwrap();
        assert_eq!((mini.layout, mini.train_json.file_name().unwrap().to_str()), (InatLayout::Inat2021Mini, Some("train_mini.json")));
        assert_eq!(mini.categories_json, Some(dir.path().join("categories.json")));
        std::fs::remove_file(dir.path().join("train_mini.json")).unwrap();
        let err = find_inat(dir.path(), true).unwrap_err().to_string();
        assert!(err.contains("--train-mini") && err.contains("train.json"), "{err}");
        let err = find_inat(&dir.path().join("train.json"), true).unwrap_err().to_string();
        assert!(err.contains("--train-mini"), "{err}");
    }

    #[test]
    fn a_file_path_is_the_training_file() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train2019.json", "{}");
        write(dir.path(), "val2019.json", "{}");
        let found = find_inat(&train, false).unwrap();
        assert_eq!((found.layout, &found.root, found.val_json.as_deref()), (InatLayout::Inat2019, &dir.path().to_path_buf(), Some(dir.path().join("val2019.json").as_path())));
        let custom = write(dir.path(), "my_birds.json", "{}");
        assert_eq!(find_inat(&custom, false).unwrap().layout, InatLayout::Other);
        let err = find_inat(&dir.path().join("val2019.json"), false).unwrap_err().to_string();
        assert!(err.contains("validation file") && err.contains("train2019.json"), "{err}");
        let archive = write(dir.path(), "train2019.json.tar.gz", "x");
        assert!(find_inat(&archive, false).unwrap_err().to_string().contains("unpack"));
    }

    #[test]
    fn unknown_folders_say_what_is_expected_and_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "notes.txt", "x");
        std::fs::create_dir(dir.path().join("photos")).unwrap();
        let err = find_inat(dir.path(), false).unwrap_err().to_string();
        for needle in ["train.json", "train_mini.json", "train2019.json", "train2018.json", "train2017.json", "notes.txt", "photos/"] {
            assert!(err.contains(needle), "{needle} missing from: {err}");
        }
        write(dir.path(), "photos/a.jpg", "x");
        assert!(find_inat(dir.path(), false).unwrap_err().to_string().contains("--folder"));
        write(dir.path(), "train2019.json", "{}");
        write(dir.path(), "train.json", "{}");
        let err = find_inat(dir.path(), false).unwrap_err().to_string();
        assert!(err.contains("several") && err.contains("train2019.json") && err.contains("train.json"), "{err}");
        let err = find_inat(&dir.path().join("absent"), false).unwrap_err();
        assert_eq!(format!("{:#}", anyhow::Error::from(err)).matches("os error").count(), 1);
    }
}
