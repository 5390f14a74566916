//! An imported model's labels: which are not taxa, and whether they are
//! iNaturalist species names carrying a taxonomy.

use taxa_core::bundle::Taxonomy;
use taxa_core::labels::SpeciesLabel;

/// How labels are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LabelFormat {
    /// iNaturalist's when every taxon label ends in brackets (`Genus species
    /// (Common Name)`, `()` for none), as iNaturalist's and Coral's files do;
    /// otherwise plain.
    #[default]
    Auto,
    /// `Scientific name (Common Name)`: the label is the scientific name,
    /// the ranks and common name come from it ([`SpeciesLabel::parse`]).
    Inat,
    /// Each line is the label, with no taxonomy.
    Plain,
}

/// The labels that are never taxa unless the user says otherwise.
pub const DEFAULT_NON_TAXA: [&str; 1] = ["background"];

pub(super) fn is_non_taxon(label: &str, named: &[String]) -> bool {
    let label = label.trim();
    DEFAULT_NON_TAXA.iter().any(|n| label.eq_ignore_ascii_case(n)) || named.iter().any(|n| label.eq_ignore_ascii_case(n.trim()))
}

/// Labels and taxonomy per `format` ([`LabelFormat`]); non-taxa keep their label.
pub fn read_taxonomy(labels: Vec<String>, non_taxa: &[usize], format: LabelFormat) -> (Vec<String>, Option<Vec<Taxonomy>>) {
    let taxa = (0..labels.len()).filter(|i| !non_taxa.contains(i));
    let inat = match format {
        LabelFormat::Plain => false,
        LabelFormat::Inat => true,
        LabelFormat::Auto => {
            let mut taxa = taxa.peekable();
            taxa.peek().is_some() && taxa.clone().all(|i| labels[i].trim_end().ends_with(')'))
        }
    };
    if !inat {
        return (labels, None);
    }
    let mut names = Vec::with_capacity(labels.len());
    let mut taxonomy = Vec::with_capacity(labels.len());
    for (i, label) in labels.into_iter().enumerate() {
        match SpeciesLabel::parse(&label).filter(|_| !non_taxa.contains(&i)) {
            Some(species) => {
                names.push(species.scientific_name);
                taxonomy.push(species.taxonomy);
            }
            None => {
                taxonomy.push(Taxonomy::species_only(label.clone()));
                names.push(label);
            }
        }
    }
    (names, Some(taxonomy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_is_never_a_taxon_and_auto_reads_inat_labels() {
        let labels: Vec<String> = ["Ardea herodias (Great Blue Heron)", "Ardea herodias occidentalis (Great White Heron)", "background"]
            .map(String::from)
            .to_vec();
        let non_taxa: Vec<usize> = (0..3).filter(|&i| is_non_taxon(&labels[i], &[])).collect();
        assert_eq!(non_taxa, [2]);
        let (names, taxonomy) = read_taxonomy(labels, &non_taxa, LabelFormat::Auto);
        assert_eq!(names, ["Ardea herodias", "Ardea herodias occidentalis", "background"]);
        let taxonomy = taxonomy.unwrap();
        assert_eq!(taxonomy[1].species, "Ardea herodias");
        assert_eq!(taxonomy[1].common_name.as_deref(), Some("Great White Heron"));
        assert_eq!(taxonomy[2], Taxonomy::species_only("background"));
    }

    #[test]
    fn plain_labels_stay_plain_in_auto() {
        let labels: Vec<String> = ["golden retriever", "tabby cat"].map(String::from).to_vec();
        let (names, taxonomy) = read_taxonomy(labels.clone(), &[], LabelFormat::Auto);
        assert_eq!((names, taxonomy), (labels.clone(), None));
        // Asked for, they are read as names anyway.
        let (_, taxonomy) = read_taxonomy(labels, &[], LabelFormat::Inat);
        assert_eq!(taxonomy.unwrap()[0].ranks.genus.as_deref(), Some("golden"));
    }
}
