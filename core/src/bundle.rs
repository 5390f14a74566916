//! The taxa model bundle: one standard ONNX file whose `metadata_props`
//! carry everything a device needs (see `docs/bundle-format.md`).

use std::collections::HashMap;
use std::path::Path;

use prost::Message;
use serde::{Deserialize, Serialize};
use tract_onnx::pb::{ModelProto, StringStringEntryProto};

use crate::error::{Result, TaxaError};
use crate::preprocess::PreprocessContract;

/// The newest metadata layout this crate reads and writes. Version 2 added
/// 8-bit model inputs (`input_type` in `taxa.preprocess`). A bundle is
/// written with the lowest version that holds it
/// ([`BundleMetadata::format_version`]), so older readers keep reading
/// bundles that need nothing newer, and refuse the others by their version.
pub const BUNDLE_FORMAT_VERSION: u32 = 2;

/// Keys in the ONNX `metadata_props`. Each value is JSON except the version.
pub mod keys {
    pub const FORMAT_VERSION: &str = "taxa.format_version";
    pub const LABELS: &str = "taxa.labels";
    pub const TAXONOMY: &str = "taxa.taxonomy";
    pub const PREPROCESS: &str = "taxa.preprocess";
    pub const OUTPUT: &str = "taxa.output";
    pub const ARCHITECTURE: &str = "taxa.architecture";
    pub const PROVENANCE: &str = "taxa.provenance";
    pub const NON_TAXA: &str = "taxa.non_taxa";
}

/// The taxonomic ranks of iNaturalist 2019, root first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rank {
    Kingdom,
    Phylum,
    Class,
    Order,
    Family,
    Genus,
    Species,
}

impl Rank {
    pub const ALL: [Rank; 7] =
        [Rank::Kingdom, Rank::Phylum, Rank::Class, Rank::Order, Rank::Family, Rank::Genus, Rank::Species];

    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Kingdom => "kingdom",
            Rank::Phylum => "phylum",
            Rank::Class => "class",
            Rank::Order => "order",
            Rank::Family => "family",
            Rank::Genus => "genus",
            Rank::Species => "species",
        }
    }
}

impl std::fmt::Display for Rank {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ranks above species (iNaturalist 2019 category fields), each optional:
/// a model may know only some of them. Shared by [`Taxonomy`] and the
/// trainer's iNaturalist records, so the field names cannot drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HigherRanks {
    /// iNaturalist's `kingdom` category field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kingdom: Option<String>,
    /// iNaturalist's `phylum` category field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phylum: Option<String>,
    /// iNaturalist's `class` category field (the taxonomic rank, renamed `class_name` in the bindings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// iNaturalist's `order` category field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// iNaturalist's `family` category field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<String>,
    /// iNaturalist's `genus` category field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub genus: Option<String>,
}

impl HigherRanks {
    /// All six ranks known, root first: kingdom, phylum, class, order,
    /// family, genus. Names are kept as given.
    pub fn from_lineage(names: [impl Into<String>; 6]) -> Self {
        let [kingdom, phylum, class, order, family, genus] = names.map(|n| Some(n.into()));
        HigherRanks { kingdom, phylum, class, order, family, genus }
    }

    /// The name at `rank`; `None` for [`Rank::Species`] and for ranks whose
    /// name is not known.
    pub fn name_at(&self, rank: Rank) -> Option<&str> {
        match rank {
            Rank::Kingdom => self.kingdom.as_deref(),
            Rank::Phylum => self.phylum.as_deref(),
            Rank::Class => self.class.as_deref(),
            Rank::Order => self.order.as_deref(),
            Rank::Family => self.family.as_deref(),
            Rank::Genus => self.genus.as_deref(),
            Rank::Species => None,
        }
    }
}

/// Where one class sits in the tree of life (iNaturalist 2019 category
/// fields). In JSON it is one flat object, as an iNaturalist category is:
/// `kingdom` … `genus` beside `species` (read also as iNaturalist's `name`)
/// and `common_name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taxonomy {
    /// Kingdom to genus, each optional; flattened, so JSON has no `ranks` key.
    #[serde(flatten)]
    pub ranks: HigherRanks,
    /// The species (scientific) name; iNaturalist's categories call it `name`.
    #[serde(alias = "name")]
    pub species: String,
    /// The vernacular name (iNaturalist 2021's `common_name`; 2019 has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_name: Option<String>,
}

impl Taxonomy {
    /// A class known only by its label.
    pub fn species_only(species: impl Into<String>) -> Self {
        Taxonomy { species: species.into(), ..Default::default() }
    }

    /// The name at `rank`, if known.
    pub fn name_at(&self, rank: Rank) -> Option<&str> {
        match rank {
            Rank::Species => Some(&self.species),
            higher => self.ranks.name_at(higher),
        }
    }

    /// Known (rank, name) pairs, root first, ending with the species.
    pub fn lineage(&self) -> impl Iterator<Item = (Rank, &str)> {
        Rank::ALL.into_iter().filter_map(|rank| self.name_at(rank).map(|name| (rank, name)))
    }
}

pub use crate::output::OutputKind;

/// Where a model came from and how good it was on its validation split.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// The training data, as free text (a name, or the training file's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset: Option<String>,
    /// Epochs trained.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<u32>,
    /// Fraction (0–1, not percent) of validation images whose class was not
    /// the top prediction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_top1_error: Option<f64>,
    /// Fraction (0–1) of validation images whose class was not among the top 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_top5_error: Option<f64>,
    /// Free-form extras (training mode, seed, tool version…).
    #[serde(default, skip_serializing_if = "HashMap::is_empty")]
    pub extra: HashMap<String, String>,
}

/// Everything the device needs besides the graph itself.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleMetadata {
    /// One label per class, in model output order (`taxa.labels`); never empty.
    pub labels: Vec<String>,
    /// One entry per label, or `None` when the model has plain labels (`taxa.taxonomy`).
    pub taxonomy: Option<Vec<Taxonomy>>,
    /// How pixels become the model input (`taxa.preprocess`).
    pub preprocess: PreprocessContract,
    /// Whether the output is logits or probabilities (`taxa.output`; logits when absent).
    pub output: OutputKind,
    /// The network's name, e.g. torchvision's `shufflenet_v2_x1_0` (`taxa.architecture`, plain text).
    pub architecture: Option<String>,
    /// Where the model came from and its validation error (`taxa.provenance`).
    pub provenance: Option<Provenance>,
    /// Indices (into `labels`) of the classes that are not taxa, such as
    /// iNaturalist models' `background` (`taxa.non_taxa`; empty when
    /// absent). They never join a roll-up, and their score stays part of the
    /// distribution (scores are not renormalised without them).
    pub non_taxa: Vec<usize>,
}

impl BundleMetadata {
    /// Plain labels with the ImageNet-standard contract.
    pub fn with_labels(labels: Vec<String>) -> Self {
        BundleMetadata {
            labels,
            taxonomy: None,
            preprocess: PreprocessContract::imagenet(),
            output: OutputKind::Logits,
            architecture: None,
            provenance: None,
            non_taxa: Vec::new(),
        }
    }

    /// The metadata of a plain ONNX file: what its graph declares (input
    /// layout, size and type, a final Softmax) with the ImageNet recipe at
    /// that size ([`DeclaredInput::assumed_contract`](crate::model_graph::DeclaredInput::assumed_contract)).
    /// Errors: [`TaxaError::ModelLoad`] naming the declared input shape when it
    /// is not an RGB image input.
    pub fn for_plain_model(model: &ModelProto, labels: Vec<String>) -> Result<Self> {
        let input = crate::model_graph::declared_input(model)?;
        Ok(BundleMetadata {
            preprocess: input.assumed_contract()?,
            output: crate::model_graph::declared_output_kind(model),
            ..Self::with_labels(labels)
        })
    }

    /// The taxonomy of class `index`; a species-only entry when the bundle has none.
    /// Panics when `index` is not below the number of labels (or of taxonomy
    /// entries, which [`validate`](Self::validate) keeps equal).
    pub fn taxonomy_of(&self, index: usize) -> Taxonomy {
        match &self.taxonomy {
            Some(taxa) => taxa[index].clone(),
            None => Taxonomy::species_only(self.labels[index].clone()),
        }
    }

    /// Whether class `index` is a taxon (not listed in [`non_taxa`](Self::non_taxa)).
    pub fn is_taxon(&self, index: usize) -> bool {
        !self.non_taxa.contains(&index)
    }

    /// The lowest format version that holds this metadata: 2 when the
    /// model takes 8-bit input, else 1.
    pub fn format_version(&self) -> u32 {
        match self.preprocess.input_type {
            crate::preprocess::InputType::Float32 => 1,
            crate::preprocess::InputType::Uint8 => 2,
        }
    }

    /// Checks the internal consistency (taxonomy count, non-taxa indices,
    /// contract values).
    pub fn validate(&self) -> Result<()> {
        if self.labels.is_empty() {
            return Err(TaxaError::metadata(keys::LABELS, "no labels"));
        }
        if let Some(taxa) = &self.taxonomy
            && taxa.len() != self.labels.len()
        {
            return Err(TaxaError::metadata(
                keys::TAXONOMY,
                format!("{} entries for {} labels", taxa.len(), self.labels.len()),
            ));
        }
        if let Some(&bad) = self.non_taxa.iter().find(|&&i| i >= self.labels.len()) {
            return Err(TaxaError::metadata(keys::NON_TAXA, format!("index {bad} is not below the {} labels", self.labels.len())));
        }
        self.preprocess.validate().map_err(|m| TaxaError::metadata(keys::PREPROCESS, m))
    }

    /// Reads the metadata of an ONNX model. `None` when the model carries no
    /// taxa metadata at all (a plain ONNX file).
    pub fn from_model_proto(model: &ModelProto) -> Result<Option<Self>> {
        let props: HashMap<&str, &str> =
            model.metadata_props.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect();
        let Some(version) = props.get(keys::FORMAT_VERSION) else {
            return Ok(None);
        };
        let version: u32 =
            version.trim().parse().map_err(|_| TaxaError::metadata(keys::FORMAT_VERSION, "not a number"))?;
        if version == 0 || version > BUNDLE_FORMAT_VERSION {
            return Err(TaxaError::metadata(
                keys::FORMAT_VERSION,
                format!("version {version} is not supported (this build reads up to {BUNDLE_FORMAT_VERSION})"),
            ));
        }
        fn required<'a, T: Deserialize<'a>>(props: &HashMap<&str, &'a str>, key: &str) -> Result<T> {
            let raw = props.get(key).ok_or_else(|| TaxaError::metadata(key, "missing"))?;
            serde_json::from_str(raw).map_err(|e| TaxaError::metadata(key, e))
        }
        fn optional<'a, T: Deserialize<'a>>(props: &HashMap<&str, &'a str>, key: &str) -> Result<Option<T>> {
            props.get(key).map(|raw| serde_json::from_str(raw).map_err(|e| TaxaError::metadata(key, e))).transpose()
        }
        let metadata = BundleMetadata {
            labels: required(&props, keys::LABELS)?,
            taxonomy: optional(&props, keys::TAXONOMY)?,
            preprocess: required(&props, keys::PREPROCESS)?,
            output: optional(&props, keys::OUTPUT)?.unwrap_or_default(),
            architecture: props.get(keys::ARCHITECTURE).map(|s| s.to_string()),
            provenance: optional(&props, keys::PROVENANCE)?,
            non_taxa: optional(&props, keys::NON_TAXA)?.unwrap_or_default(),
        };
        metadata.validate()?;
        Ok(Some(metadata))
    }

    /// Writes this metadata into `model`, replacing any earlier taxa keys and
    /// keeping everyone else's.
    pub fn write_into(&self, model: &mut ModelProto) -> Result<()> {
        self.validate()?;
        model.metadata_props.retain(|e| !e.key.starts_with("taxa."));
        fn json<T: Serialize>(value: &T) -> String {
            serde_json::to_string(value).expect("metadata types always serialise")
        }
        let mut entries = vec![
            (keys::FORMAT_VERSION, self.format_version().to_string()),
            (keys::LABELS, json(&self.labels)),
            (keys::PREPROCESS, json(&self.preprocess)),
            (keys::OUTPUT, json(&self.output)),
        ];
        if let Some(taxonomy) = &self.taxonomy {
            entries.push((keys::TAXONOMY, json(taxonomy)));
        }
        if let Some(arch) = &self.architecture {
            entries.push((keys::ARCHITECTURE, arch.clone()));
        }
        if let Some(provenance) = &self.provenance {
            entries.push((keys::PROVENANCE, json(provenance)));
        }
        if !self.non_taxa.is_empty() {
            entries.push((keys::NON_TAXA, json(&self.non_taxa)));
        }
        model.metadata_props.extend(
            entries.into_iter().map(|(key, value)| StringStringEntryProto { key: key.to_string(), value }),
        );
        Ok(())
    }
}

/// Decodes ONNX bytes into the protobuf model.
pub fn decode_model(bytes: &[u8]) -> Result<ModelProto> {
    if bytes.is_empty() {
        return Err(TaxaError::ModelDecode("file is empty".into()));
    }
    let model = ModelProto::decode(bytes).map_err(|e| TaxaError::ModelDecode(e.to_string()))?;
    if model.graph.is_none() {
        return Err(TaxaError::ModelDecode("no graph in the model (is this an ONNX file?)".into()));
    }
    Ok(model)
}

/// Reads a model file from disk.
pub fn read_model(path: &Path) -> Result<ModelProto> {
    let bytes = std::fs::read(path).map_err(|e| TaxaError::io(path, e))?;
    decode_model(&bytes).map_err(|e| match e {
        TaxaError::ModelDecode(m) => TaxaError::ModelDecode(format!("{}: {m}", path.display())),
        other => other,
    })
}

/// Encodes a model with `metadata` into bundle bytes.
pub fn encode_bundle(mut model: ModelProto, metadata: &BundleMetadata) -> Result<Vec<u8>> {
    metadata.write_into(&mut model)?;
    Ok(model.encode_to_vec())
}

/// Writes a bundle file atomically ([`crate::atomic::write_atomic`]), so a
/// crash never leaves half a model behind.
pub fn write_bundle(path: &Path, model: ModelProto, metadata: &BundleMetadata) -> Result<()> {
    let bytes = encode_bundle(model, metadata)?;
    crate::atomic::write_atomic(path, &bytes).map_err(|error| TaxaError::Write { path: path.into(), error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::preprocess::{Crop, Resize};

    fn sample() -> BundleMetadata {
        let mut provenance = Provenance {
            dataset: Some("synthetic".into()),
            epochs: Some(10),
            val_top1_error: Some(0.25),
            val_top5_error: Some(0.05),
            ..Default::default()
        };
        provenance.extra.insert("mode".into(), "frozen".into());
        let mut preprocess = PreprocessContract::imagenet();
        preprocess.resize = Resize::ShorterSide { size: 160 };
        preprocess.crop = Crop::Center { width: 128, height: 128 };
        BundleMetadata {
            labels: vec!["Rana temporaria".into(), "Rana arvalis".into()],
            taxonomy: Some(vec![
                Taxonomy {
                    ranks: HigherRanks { kingdom: Some("Animalia".into()), genus: Some("Rana".into()), ..Default::default() },
                    species: "Rana temporaria".into(),
                    common_name: Some("Common frog".into()),
                },
                Taxonomy { ranks: HigherRanks { genus: Some("Rana".into()), ..Default::default() }, species: "Rana arvalis".into(), ..Default::default() },
            ]),
            preprocess,
            output: OutputKind::Probabilities,
            architecture: Some("shufflenet_v2_x1_0".into()),
            provenance: Some(provenance),
            non_taxa: vec![1],
        }
    }

    #[test]
    fn metadata_round_trips_through_encoded_bytes() {
        let metadata = sample();
        let mut model = ModelProto { graph: Some(Default::default()), ..Default::default() };
        model.metadata_props.push(StringStringEntryProto { key: "author".into(), value: "someone".into() });
        let bytes = encode_bundle(model, &metadata).unwrap();
        let decoded = decode_model(&bytes).unwrap();
        assert_eq!(BundleMetadata::from_model_proto(&decoded).unwrap(), Some(metadata));
        assert!(decoded.metadata_props.iter().any(|e| e.key == "author"), "foreign keys are kept");
    }

    #[test]
    fn taxonomy_json_is_one_flat_object_in_rank_order() {
        let frog = Taxonomy {
            ranks: HigherRanks::from_lineage(["Animalia", "Chordata", "Amphibia", "Anura", "Ranidae", "Rana"]),
            species: "Rana temporaria".into(),
            common_name: Some("Common frog".into()),
        };
        let text = serde_json::to_string(&frog).unwrap();
        assert_eq!(
            text,
            r#"{"kingdom":"Animalia","phylum":"Chordata","class":"Amphibia","order":"Anura","family":"Ranidae","genus":"Rana","species":"Rana temporaria","common_name":"Common frog"}"#
        );
        assert_eq!(serde_json::from_str::<Taxonomy>(&text).unwrap(), frog);
        // An iNaturalist category: `name` for the species, unknown ranks left out, extra keys ignored.
        let category: Taxonomy = serde_json::from_str(r#"{"id": 7, "name": "Rana arvalis", "genus": "Rana"}"#).unwrap();
        assert_eq!(category.species, "Rana arvalis");
        assert_eq!(category.ranks, HigherRanks { genus: Some("Rana".into()), ..Default::default() });
        assert_eq!(serde_json::to_string(&category).unwrap(), r#"{"genus":"Rana","species":"Rana arvalis"}"#);
    }

    #[test]
    fn plain_onnx_has_no_metadata() {
        let model = ModelProto::default();
        assert_eq!(BundleMetadata::from_model_proto(&model).unwrap(), None);
    }

    #[test]
    fn broken_metadata_names_the_key() {
        let mut model = ModelProto::default();
        sample().write_into(&mut model).unwrap();
        for entry in &mut model.metadata_props {
            if entry.key == keys::TAXONOMY {
                entry.value = "[{\"genus\": 3}]".into();
            }
        }
        let err = BundleMetadata::from_model_proto(&model).unwrap_err();
        assert!(matches!(&err, TaxaError::BundleMetadata { key, .. } if key == keys::TAXONOMY), "{err}");

        let mut model = ModelProto::default();
        sample().write_into(&mut model).unwrap();
        model.metadata_props.retain(|e| e.key != keys::LABELS);
        let err = BundleMetadata::from_model_proto(&model).unwrap_err();
        assert!(err.to_string().contains("taxa.labels"), "{err}");

        let mut model = ModelProto::default();
        sample().write_into(&mut model).unwrap();
        for entry in &mut model.metadata_props {
            if entry.key == keys::FORMAT_VERSION {
                entry.value = "99".into();
            }
        }
        assert!(BundleMetadata::from_model_proto(&model).unwrap_err().to_string().contains("99"));
    }

    #[test]
    fn version_is_the_lowest_that_holds_the_bundle() {
        let version_of = |metadata: &BundleMetadata| {
            let mut model = ModelProto::default();
            metadata.write_into(&mut model).unwrap();
            model.metadata_props.iter().find(|e| e.key == keys::FORMAT_VERSION).unwrap().value.clone()
        };
        let mut metadata = sample();
        assert_eq!(version_of(&metadata), "1");
        metadata.preprocess = PreprocessContract::raw_pixels(metadata.preprocess.clone());
        assert_eq!(version_of(&metadata), "2");
        let mut model = ModelProto::default();
        metadata.write_into(&mut model).unwrap();
        assert_eq!(BundleMetadata::from_model_proto(&model).unwrap(), Some(metadata));
    }

    #[test]
    fn non_taxa_must_name_labels() {
        let mut metadata = sample();
        metadata.non_taxa = vec![2];
        let err = metadata.write_into(&mut ModelProto::default()).unwrap_err();
        assert!(err.to_string().contains("taxa.non_taxa") && err.to_string().contains("index 2"), "{err}");
        assert!(!sample().is_taxon(1) && sample().is_taxon(0));
    }

    #[test]
    fn taxonomy_count_must_match_labels() {
        let mut metadata = sample();
        metadata.taxonomy.as_mut().unwrap().pop();
        let err = metadata.write_into(&mut ModelProto::default()).unwrap_err();
        assert!(err.to_string().contains("1 entries for 2 labels"), "{err}");
    }

    #[test]
    fn garbage_is_not_a_model() {
        assert!(matches!(decode_model(b""), Err(TaxaError::ModelDecode(_))));
        assert!(matches!(decode_model(b"\xff\xfe definitely not protobuf"), Err(TaxaError::ModelDecode(_))));
    }
}
