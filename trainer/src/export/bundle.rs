//! The one place a trained tch network becomes a bundle: its ONNX graph and
//! the metadata the device reads, written together.

use std::path::{Path, PathBuf};

use taxa_core::{BundleMetadata, OutputKind, PreprocessContract, Provenance, Taxonomy, TaxaError, bundle};

use super::{ExportError, ExportOptions, export_onnx};
use crate::models::Network;

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("{labels} labels for a network with {classes} classes; the bundle would name the wrong classes")]
    LabelCount { labels: usize, classes: i64 },
    /// Core refused the metadata, or the file could not be written. Core's
    /// error is in the message, not a `source`, so a chain (`{:#}`) says it
    /// once: "cannot write best.onnx: No space left on device (os error 28)".
    #[error("{}", write_message(path, error))]
    Write { path: PathBuf, error: TaxaError },
}

fn write_message(path: &Path, error: &TaxaError) -> String {
    match error {
        TaxaError::Write { .. } => error.to_string(),
        _ => format!("writing {}: {error}", path.display()),
    }
}

/// A bundle of `net`, built step by step and written with [`Self::write`]:
///
/// ```ignore
/// NetworkBundle::new(&net, contract, labels).taxonomy(Some(taxa)).provenance(provenance).write(path)?;
/// ```
///
/// The metadata says: the labels in class order, the taxonomy when given,
/// the preprocessing contract the network was trained under (the graph's
/// input follows its size and layout), `logits` output (core applies the
/// softmax) and the architecture's torchvision name.
pub struct NetworkBundle<'a> {
    net: &'a Network,
    options: ExportOptions,
    metadata: BundleMetadata,
}

impl<'a> NetworkBundle<'a> {
    /// `labels`: one per class, in the network's output order.
    pub fn new(net: &'a Network, contract: PreprocessContract, labels: Vec<String>) -> Self {
        let metadata = BundleMetadata {
            labels,
            taxonomy: None,
            preprocess: contract,
            output: OutputKind::Logits,
            architecture: Some(net.spec().arch.clone()),
            provenance: None,
            non_taxa: Vec::new(),
        };
        NetworkBundle { net, options: ExportOptions::default(), metadata }
    }

    /// One taxon per label (same order), or `None` for plain labels.
    pub fn taxonomy(mut self, taxonomy: Option<Vec<Taxonomy>>) -> Self {
        self.metadata.taxonomy = taxonomy;
        self
    }

    /// Where the weights came from and how well they scored.
    pub fn provenance(mut self, provenance: Provenance) -> Self {
        self.metadata.provenance = Some(provenance);
        self
    }

    pub fn options(mut self, options: ExportOptions) -> Self {
        self.options = options;
        self
    }

    /// Exports the graph and writes the bundle to `path` atomically; on any
    /// error nothing is written. Errors: [`BundleError::LabelCount`] when the
    /// labels are not one per class, [`BundleError::Export`] when the network
    /// cannot be exported (input size, non-finite weights), and
    /// [`BundleError::Write`] naming `path` when core refuses the metadata
    /// (taxonomy count, contract values) or the file cannot be written.
    pub fn write(self, path: &Path) -> Result<(), BundleError> {
        let classes = self.net.spec().num_classes;
        if self.metadata.labels.len() as i64 != classes {
            return Err(BundleError::LabelCount { labels: self.metadata.labels.len(), classes });
        }
        let model = export_onnx(self.net, &self.metadata.preprocess, self.options)?;
        bundle::write_bundle(path, model, &self.metadata).map_err(|error| BundleError::Write { path: path.to_path_buf(), error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{preprocess_contract, spec_for};

    #[test]
    fn the_bundle_carries_the_network_and_its_metadata() {
        let vs = tch::nn::VarStore::new(tch::Device::Cpu);
        let net = Network::new(&vs.root(), spec_for("squeezenet1_1", 3).unwrap());
        let contract = preprocess_contract("squeezenet1_1", 64);
        let labels: Vec<String> = ["a", "b", "c"].map(String::from).into();
        let taxonomy: Vec<Taxonomy> = labels.iter().map(|l| Taxonomy::species_only(l.clone())).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        let provenance = Provenance { dataset: Some("here".into()), ..Default::default() };
        NetworkBundle::new(&net, contract.clone(), labels.clone()).taxonomy(Some(taxonomy.clone())).provenance(provenance.clone()).write(&path).unwrap();
        let metadata = BundleMetadata::from_model_proto(&bundle::read_model(&path).unwrap()).unwrap().unwrap();
        assert_eq!(metadata.labels, labels);
        assert_eq!(metadata.taxonomy.as_ref(), Some(&taxonomy));
        assert_eq!(metadata.preprocess, contract);
        assert_eq!(metadata.output, OutputKind::Logits);
        assert_eq!(metadata.architecture.as_deref(), Some("squeezenet1_1"));
        assert_eq!(metadata.provenance, Some(provenance));

        let bad = dir.path().join("bad.onnx");
        let err = NetworkBundle::new(&net, contract.clone(), vec!["only one".into()]).write(&bad).unwrap_err();
        assert!(matches!(err, BundleError::LabelCount { labels: 1, classes: 3 }), "{err}");
        let err = NetworkBundle::new(&net, contract.clone(), labels.clone()).taxonomy(Some(taxonomy[..2].to_vec())).write(&bad).unwrap_err();
        assert!(matches!(&err, BundleError::Write { path, .. } if path == &bad), "{err}");
        assert!(!bad.exists(), "nothing is left behind");

        // A folder that cannot take the file: the OS error once, with "write".
        let nowhere = dir.path().join("missing/m.onnx");
        let err = NetworkBundle::new(&net, contract.clone(), labels.clone()).write(&nowhere).unwrap_err();
        let text = format!("{:#}", anyhow::Error::from(err));
        assert_eq!(text, format!("cannot write {}: No such file or directory (os error 2)", nowhere.display()));
    }

    /// A full disk while writing `best.onnx` reads as one line, once.
    #[test]
    fn a_full_disk_is_said_once() {
        let path = PathBuf::from("run/best.onnx");
        let full = TaxaError::Write { path: path.clone(), error: std::io::Error::from_raw_os_error(28) };
        let text = format!("{:#}", anyhow::Error::from(BundleError::Write { path, error: full }));
        assert_eq!(text, "cannot write run/best.onnx: No space left on device (os error 28)");
    }
}
