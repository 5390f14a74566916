//! The iNaturalist competition records (visipedia/inat_comp), typed: what
//! the loader reads and what `taxa synth` writes, so the two cannot drift.
//! Field names are the competitions' own. Optional fields are left out when
//! writing rather than written as `null`.

use std::path::Path;

use serde::{Deserialize, Deserializer, Serialize};
use taxa_core::HigherRanks;

use super::DataError;

/// One `train*.json` / `val*.json` file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InatFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<serde_json::Value>,
    pub images: Vec<InatImage>,
    /// Absent in the competitions' test files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Vec<InatAnnotation>>,
    pub categories: Vec<InatCategory>,
}

/// An entry of `images`; `file_name` is relative to the dataset root.
/// Other fields (2021's `latitude`, `longitude`, `date`…) are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InatImage {
    pub id: i64,
    pub file_name: String,
    /// Pixels; `null` in some 2021 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
}

/// An entry of `annotations`: one image's category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InatAnnotation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub image_id: i64,
    pub category_id: i64,
}

/// An entry of `categories` (or of `categories.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InatCategory {
    pub id: i64,
    /// A string in every year; obfuscated lists may hold numbers.
    #[serde(deserialize_with = "string_or_number")]
    pub name: String,
    /// `kingdom` … `genus`: 2018, 2019, 2021.
    #[serde(flatten)]
    pub ranks: HigherRanks,
    /// 2021.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
    /// 2017, 2018 (a taxon name such as `Aves` or `Plantae`), 2021 (an iconic group such as `Birds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supercategory: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!("expected a string, found {other}"))),
    }
}

impl InatFile {
    /// Reads an annotation file; errors name the file, line and column.
    pub fn read(path: &Path) -> Result<InatFile, DataError> {
        read_json(path)
    }

    /// Writes the file as compact JSON (the competitions' files are compact).
    pub fn write(&self, path: &Path) -> Result<(), DataError> {
        let bytes = serde_json::to_vec(self).expect("records serialise");
        taxa_core::atomic::write_atomic(path, &bytes).map_err(|error| DataError::Io { path: path.into(), error })
    }
}

pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, DataError> {
    let bytes = std::fs::read(path).map_err(|error| DataError::Io { path: path.into(), error })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        let mut message = e.to_string().replacen(&format!(" at line {} column {}", e.line(), e.column()), "", 1);
        if e.classify() == serde_json::error::Category::Data {
            message.push_str(" (expected an iNaturalist/COCO-style annotation file: images, annotations, categories)");
        }
        DataError::Json { path: path.into(), line: e.line(), column: e.column(), message }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_leave_out_absent_fields() {
        let file = InatFile {
            info: None,
            images: vec![InatImage { id: 1, file_name: "a/1.jpg".into(), width: Some(32), height: Some(32) }],
            annotations: Some(vec![InatAnnotation { id: Some(1), image_id: 1, category_id: 0 }]),
            categories: vec![InatCategory { id: 0, name: "Rana temporaria".into(), ranks: HigherRanks { genus: Some("Rana".into()), ..Default::default() }, ..Default::default() }],
        };
        let text = serde_json::to_string(&file).unwrap();
        assert!(!text.contains("null") && !text.contains("kingdom"), "{text}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train2019.json");
        file.write(&path).unwrap();
        let back = InatFile::read(&path).unwrap();
        assert_eq!((back.images, back.annotations, back.categories), (file.images, file.annotations, file.categories));
    }

    #[test]
    fn a_category_is_written_in_inaturalists_field_order() {
        let category = InatCategory {
            id: 3,
            name: "Rana temporaria".into(),
            ranks: HigherRanks::from_lineage(["Animalia", "Chordata", "Amphibia", "Anura", "Ranidae", "Rana"]),
            common_name: Some("Common Frog".into()),
            supercategory: Some("Amphibians".into()),
        };
        assert_eq!(
            serde_json::to_string(&category).unwrap(),
            r#"{"id":3,"name":"Rana temporaria","kingdom":"Animalia","phylum":"Chordata","class":"Amphibia","order":"Anura","family":"Ranidae","genus":"Rana","common_name":"Common Frog","supercategory":"Amphibians"}"#
        );
        // Obfuscated lists hold numbers as names.
        let numbered: InatCategory = serde_json::from_str(r#"{"id": 4, "name": 1234, "genus": "Rana"}"#).unwrap();
        assert_eq!((numbered.name.as_str(), numbered.ranks.genus.as_deref()), ("1234", Some("Rana")));
    }
}
