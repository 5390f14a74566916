//! Taxonomy roll-up, as iNaturalist's app does it: species scores are summed
//! into every ancestor, then the tree is walked down from the root taking the
//! best child while its score stays at or above a threshold.

use std::collections::HashMap;

use serde::Serialize;

use crate::bundle::{BundleMetadata, Rank, Taxonomy};

/// One taxon and its summed score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaxonScore {
    pub rank: Rank,
    /// The taxon's name at `rank` (the species name at [`Rank::Species`]).
    pub name: String,
    /// The sum of the probabilities of every class under this taxon
    /// (classes excluded by `allow`/`deny` count 0): in [0, 1], up to
    /// float rounding.
    pub score: f32,
}

/// The deepest taxon the model is confident about, with its lineage
/// (root first, ending with the taxon itself).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RolledUpTaxon {
    pub rank: Rank,
    /// The taxon's name at `rank`.
    pub name: String,
    /// The summed probability of the classes under this taxon, as in
    /// [`TaxonScore::score`]; at least the roll-up threshold.
    pub score: f32,
    /// Root first, ending with this taxon; each step is the best-scoring
    /// child of the one before.
    pub lineage: Vec<TaxonScore>,
}

#[derive(Debug)]
struct Node {
    rank: Rank,
    name: String,
    children: Vec<usize>,
}

/// The classes' taxonomy as a tree, built once per classifier. Taxa are keyed
/// by their full lineage, so equal names under different parents stay apart.
#[derive(Debug)]
pub struct TaxonTree {
    nodes: Vec<Node>,
    roots: Vec<usize>,
    /// For each class, the nodes from root to species.
    class_paths: Vec<Vec<usize>>,
}

impl TaxonTree {
    /// The tree of a bundle's classes: its taxonomy (or labels as species),
    /// leaving out the classes that are not taxa ([`BundleMetadata::non_taxa`]),
    /// which then join no taxon's score.
    pub fn from_metadata(metadata: &BundleMetadata) -> Self {
        let taxa: Vec<Option<Taxonomy>> =
            (0..metadata.labels.len()).map(|i| metadata.is_taxon(i).then(|| metadata.taxonomy_of(i))).collect();
        Self::with_non_taxa(&taxa)
    }

    /// The tree of classes that are all taxa.
    pub fn new(taxa: &[Taxonomy]) -> Self {
        let taxa: Vec<Option<Taxonomy>> = taxa.iter().cloned().map(Some).collect();
        Self::with_non_taxa(&taxa)
    }

    /// One entry per class; `None` for a class that is not a taxon.
    fn with_non_taxa(taxa: &[Option<Taxonomy>]) -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        let mut roots = Vec::new();
        let mut index: HashMap<(Option<usize>, Rank, &str), usize> = HashMap::new();
        let mut class_paths = Vec::with_capacity(taxa.len());
        for taxonomy in taxa {
            let mut parent = None;
            let mut path = Vec::new();
            for (rank, name) in taxonomy.iter().flat_map(Taxonomy::lineage) {
                let id = *index.entry((parent, rank, name)).or_insert_with(|| {
                    nodes.push(Node { rank, name: name.to_string(), children: Vec::new() });
                    let id = nodes.len() - 1;
                    match parent {
                        Some(p) => nodes[p].children.push(id),
                        None => roots.push(id),
                    }
                    id
                });
                path.push(id);
                parent = Some(id);
            }
            class_paths.push(path);
        }
        TaxonTree { nodes, roots, class_paths }
    }

    /// Sums `scores` (one per class) up the tree and returns the deepest taxon
    /// whose score stays at or above `threshold`, or `None` when not even a
    /// top-level taxon reaches it.
    pub fn roll_up(&self, scores: &[f32], threshold: f32) -> Option<RolledUpTaxon> {
        let mut sums = vec![0f32; self.nodes.len()];
        for (path, &score) in self.class_paths.iter().zip(scores) {
            for &node in path {
                sums[node] += score;
            }
        }
        let best_of = |ids: &[usize]| ids.iter().copied().max_by(|&a, &b| sums[a].total_cmp(&sums[b]));
        let mut lineage = Vec::new();
        let mut level = self.roots.as_slice();
        while let Some(best) = best_of(level) {
            if sums[best] < threshold {
                break;
            }
            let node = &self.nodes[best];
            lineage.push(TaxonScore { rank: node.rank, name: node.name.clone(), score: sums[best] });
            level = &node.children;
        }
        let last = lineage.last()?.clone();
        Some(RolledUpTaxon { rank: last.rank, name: last.name, score: last.score, lineage })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::HigherRanks;

    fn frog(genus: &str, species: &str) -> Taxonomy {
        let family = if genus == "Bufo" { "Bufonidae" } else { "Ranidae" };
        Taxonomy { ranks: HigherRanks::from_lineage(["Animalia", "Chordata", "Amphibia", "Anura", family, genus]), species: species.into(), common_name: None }
    }

    fn taxa() -> Vec<Taxonomy> {
        vec![frog("Rana", "Rana temporaria"), frog("Rana", "Rana arvalis"), frog("Bufo", "Bufo bufo")]
    }

    #[test]
    fn tied_species_roll_up_to_their_certain_genus() {
        let tree = TaxonTree::new(&taxa());
        let rolled = tree.roll_up(&[0.455, 0.455, 0.09], 0.8).unwrap();
        assert_eq!((rolled.rank, rolled.name.as_str()), (Rank::Genus, "Rana"));
        assert!((rolled.score - 0.91).abs() < 1e-6);
        let ranks: Vec<Rank> = rolled.lineage.iter().map(|t| t.rank).collect();
        assert_eq!(ranks, &Rank::ALL[..6]);
    }

    #[test]
    fn a_confident_species_is_returned_as_species() {
        let tree = TaxonTree::new(&taxa());
        let rolled = tree.roll_up(&[0.9, 0.05, 0.05], 0.8).unwrap();
        assert_eq!((rolled.rank, rolled.name.as_str()), (Rank::Species, "Rana temporaria"));
    }

    #[test]
    fn split_families_stop_at_the_order() {
        let tree = TaxonTree::new(&taxa());
        let rolled = tree.roll_up(&[0.3, 0.2, 0.5], 0.8).unwrap();
        assert_eq!((rolled.rank, rolled.name.as_str()), (Rank::Order, "Anura"));
        assert!((rolled.score - 1.0).abs() < 1e-6);
    }

    #[test]
    fn nothing_confident_gives_none() {
        let tree = TaxonTree::new(&[Taxonomy::species_only("a"), Taxonomy::species_only("b")]);
        assert_eq!(tree.roll_up(&[0.5, 0.5], 0.8), None);
        assert_eq!(tree.roll_up(&[0.85, 0.15], 0.8).unwrap().name, "a");
    }

    #[test]
    fn a_non_taxon_joins_no_roll_up() {
        let mut metadata = BundleMetadata::with_labels(vec!["Rana temporaria".into(), "Rana arvalis".into(), "background".into()]);
        let tree = TaxonTree::from_metadata(&metadata);
        // As a taxon, `background` would be a root of its own and win.
        assert_eq!(tree.roll_up(&[0.1, 0.05, 0.85], 0.8).unwrap().name, "background");
        metadata.non_taxa = vec![2];
        let tree = TaxonTree::from_metadata(&metadata);
        assert_eq!(tree.roll_up(&[0.1, 0.05, 0.85], 0.8), None);
        // Scores are not renormalised without it: 0.45 + 0.4 of 1 is not 0.8 of 0.85.
        metadata.taxonomy = Some(vec![frog("Rana", "Rana temporaria"), frog("Rana", "Rana arvalis"), Taxonomy::species_only("background")]);
        let tree = TaxonTree::from_metadata(&metadata);
        assert_eq!(tree.roll_up(&[0.42, 0.37, 0.21], 0.8), None);
        assert_eq!(tree.roll_up(&[0.45, 0.4, 0.15], 0.8).unwrap().name, "Rana");
    }

    #[test]
    fn same_genus_name_in_two_families_stays_apart() {
        let mut a = frog("Rana", "x");
        a.ranks.family = Some("F1".into());
        let mut b = frog("Rana", "y");
        b.ranks.family = Some("F2".into());
        let tree = TaxonTree::new(&[a, b]);
        let rolled = tree.roll_up(&[0.5, 0.5], 0.8).unwrap();
        assert_eq!(rolled.rank, Rank::Order);
    }
}
