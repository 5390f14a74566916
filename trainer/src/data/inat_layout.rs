//! Finding an iNaturalist dataset: which competition year's files a folder
//! (or a training file) holds, and where its validation and categories
//! files are. The records themselves are read by [`super::inat`].

use std::fmt;
use std::path::{Path, PathBuf};

use super::{DataError, folder_listing};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
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
