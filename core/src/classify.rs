//! Classification options and results: softmax, top-k, score floor and
//! allow/deny lists of labels or higher taxa.

use serde::Serialize;

use crate::bundle::{BundleMetadata, Taxonomy};
use crate::error::{Result, TaxaError};
use crate::labels::name_key;
use crate::rollup::{RolledUpTaxon, TaxonTree};

/// What to return from a classification.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyOptions {
    /// How many predictions to return at most, best first. At least 1.
    /// Fewer come back when `min_score`, `allow` or `deny` leave fewer classes.
    pub top_k: usize,
    /// Predictions whose probability is below this are dropped. A
    /// probability in [0, 1]; 0 keeps every class.
    pub min_score: f32,
    /// When non-empty, only classes whose label or any higher taxon name is
    /// listed are considered. Whole names, compared in Unicode NFC and
    /// case-insensitively ([`crate::labels::same_name`]); a name matching no
    /// label or taxon is [`TaxaError::InvalidOptions`].
    pub allow: Vec<String>,
    /// Classes whose label or any higher taxon name is listed are ignored.
    /// Compared as `allow` is. Deny wins over allow.
    pub deny: Vec<String>,
    /// The summed probability a taxon needs for the roll-up to descend into
    /// it. In (0, 1]; iNaturalist's app uses 0.8 (the default).
    pub rollup_threshold: f32,
    /// Classify what can be decoded of a file cut short instead of refusing
    /// it with [`TaxaError::ImageTruncated`]; the result is then marked
    /// [`Classification::truncated`]. Off by default.
    pub allow_truncated: bool,
}

impl Default for ClassifyOptions {
    fn default() -> Self {
        ClassifyOptions {
            top_k: 5,
            min_score: 0.0,
            allow: Vec::new(),
            deny: Vec::new(),
            rollup_threshold: 0.8,
            allow_truncated: false,
        }
    }
}

impl ClassifyOptions {
    /// Checks the ranges. Errors: [`TaxaError::InvalidOptions`] when
    /// `top_k` is 0, `min_score` is outside [0, 1], or `rollup_threshold` is
    /// outside (0, 1] (NaN fails both). Every classify call runs it.
    pub fn validate(&self) -> Result<()> {
        if self.top_k == 0 {
            return Err(TaxaError::InvalidOptions("top_k must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.min_score) {
            return Err(TaxaError::InvalidOptions(format!("min_score {} is outside [0, 1]", self.min_score)));
        }
        if !(self.rollup_threshold > 0.0 && self.rollup_threshold <= 1.0) {
            return Err(TaxaError::InvalidOptions(format!(
                "rollup_threshold {} is outside (0, 1]",
                self.rollup_threshold
            )));
        }
        Ok(())
    }
}

/// One class and its score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prediction {
    /// The class's index in the model output, which is also its index in
    /// [`BundleMetadata::labels`].
    pub class_index: usize,
    /// The class's label, from the bundle or the labels file.
    pub label: String,
    /// The class's probability in [0, 1] over all classes of the model:
    /// softmax of the logits, or the model's own output when the bundle says
    /// [`OutputKind::Probabilities`](crate::bundle::OutputKind::Probabilities).
    /// Not renormalised after `allow` and `deny`. With a
    /// [`ScoreSmoother`](crate::ScoreSmoother), the mean over its frames.
    pub score: f32,
    /// Where the class sits in the tree of life; only `species` (the label)
    /// when the bundle has no taxonomy.
    pub taxonomy: Taxonomy,
    /// False for a class that is not a taxon (`background` in iNaturalist's
    /// models, [`BundleMetadata::non_taxa`]): as the best prediction it means
    /// "no species recognised".
    pub is_taxon: bool,
}

/// The result for one image.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// Best first, at most `top_k`.
    pub predictions: Vec<Prediction>,
    /// The deepest confident taxon, if any.
    pub rollup: Option<RolledUpTaxon>,
    /// Only part of the image could be decoded (the file was cut short and
    /// [`ClassifyOptions::allow_truncated`] was set).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// Numerically stable softmax, in place.
pub fn softmax(values: &mut [f32]) {
    let max = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for v in values.iter_mut() {
        *v = (*v - max).exp();
        sum += *v;
    }
    for v in values.iter_mut() {
        *v /= sum;
    }
}

/// Indices of the `k` largest values among those `keep` accepts, largest
/// first (ties by lower index).
pub fn top_k(values: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).filter(|&i| keep(i)).collect();
    let by_score = |a: &usize, b: &usize| values[*b].total_cmp(&values[*a]).then(a.cmp(b));
    let k = k.min(values.len());
    if k > 0 && k < order.len() {
        order.select_nth_unstable_by(k - 1, by_score);
        order.truncate(k);
    }
    order.sort_by(by_score);
    order
}

/// Checks that every `allow` and `deny` name is a label or a taxon of the
/// model (compared as [`same_name`](crate::labels::same_name) does): a name
/// that matches nothing would otherwise leave the result silently empty
/// (allow) or unfiltered (deny). Error: [`TaxaError::InvalidOptions`] naming
/// the first such name.
pub fn check_names(options: &ClassifyOptions, metadata: &BundleMetadata) -> Result<()> {
    if options.allow.is_empty() && options.deny.is_empty() {
        return Ok(());
    }
    let mut known: std::collections::HashSet<String> = metadata.labels.iter().map(|l| name_key(l)).collect();
    for index in 0..metadata.labels.len() {
        known.extend(metadata.taxonomy_of(index).lineage().map(|(_, name)| name_key(name)));
    }
    for (flag, list) in [("allow", &options.allow), ("deny", &options.deny)] {
        if let Some(unknown) = list.iter().find(|name| !known.contains(&name_key(name))) {
            return Err(TaxaError::InvalidOptions(format!(
                "{flag} names `{unknown}`, which is neither a label nor a taxon of this model"
            )));
        }
    }
    Ok(())
}

/// Turns per-class probabilities into the top-k and the roll-up.
pub(crate) fn classification_from_probabilities(
    mut probabilities: Vec<f32>,
    metadata: &BundleMetadata,
    tree: &TaxonTree,
    options: &ClassifyOptions,
) -> Result<Classification> {
    options.validate()?;
    check_names(options, metadata)?;
    if probabilities.iter().any(|p| !p.is_finite()) {
        return Err(TaxaError::Inference("the model produced non-finite scores".into()));
    }
    let allow: Vec<String> = options.allow.iter().map(|n| name_key(n)).collect();
    let deny: Vec<String> = options.deny.iter().map(|n| name_key(n)).collect();
    let listed = |list: &[String], index: usize| {
        if list.is_empty() {
            return false;
        }
        let label = name_key(&metadata.labels[index]);
        let taxonomy = metadata.taxonomy_of(index);
        list.iter().any(|entry| *entry == label || taxonomy.lineage().any(|(_, name)| *entry == name_key(name)))
    };
    let excluded: Vec<bool> = if options.allow.is_empty() && options.deny.is_empty() {
        vec![false; probabilities.len()]
    } else {
        (0..probabilities.len())
            .map(|i| (!allow.is_empty() && !listed(&allow, i)) || listed(&deny, i))
            .collect()
    };
    // Excluded classes count for nothing, in the top-k and in the roll-up.
    for (p, &out) in probabilities.iter_mut().zip(&excluded) {
        if out {
            *p = 0.0;
        }
    }
    let rollup = tree.roll_up(&probabilities, options.rollup_threshold);
    let predictions = top_k(&probabilities, options.top_k, |i| !excluded[i] && probabilities[i] >= options.min_score)
        .into_iter()
        .map(|i| Prediction {
            class_index: i,
            label: metadata.labels[i].clone(),
            score: probabilities[i],
            taxonomy: metadata.taxonomy_of(i),
            is_taxon: metadata.is_taxon(i),
        })
        .collect();
    Ok(Classification { predictions, rollup, truncated: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bundle::Rank;

    fn metadata() -> BundleMetadata {
        let mut m = BundleMetadata::with_labels(vec!["Rana temporaria".into(), "Rana arvalis".into(), "Bufo bufo".into()]);
        m.taxonomy = Some(vec![
            Taxonomy { ranks: crate::HigherRanks { genus: Some("Rana".into()), ..Default::default() }, species: "Rana temporaria".into(), ..Default::default() },
            Taxonomy { ranks: crate::HigherRanks { genus: Some("Rana".into()), ..Default::default() }, species: "Rana arvalis".into(), ..Default::default() },
            Taxonomy { ranks: crate::HigherRanks { genus: Some("Bufo".into()), ..Default::default() }, species: "Bufo bufo".into(), ..Default::default() },
        ]);
        m
    }

    fn run(probabilities: &[f32], options: &ClassifyOptions) -> Result<Classification> {
        let m = metadata();
        let tree = TaxonTree::new(m.taxonomy.as_ref().unwrap());
        classification_from_probabilities(probabilities.to_vec(), &m, &tree, options)
    }

    #[test]
    fn softmax_is_stable_and_normalised() {
        let mut v = [1000.0, 1000.0, -1000.0];
        softmax(&mut v);
        assert!((v[0] - 0.5).abs() < 1e-6 && v[2] == 0.0);
    }

    #[test]
    fn top_k_orders_and_breaks_ties_by_index() {
        assert_eq!(top_k(&[0.1, 0.5, 0.5, 0.2], 3, |_| true), vec![1, 2, 3]);
        assert_eq!(top_k(&[0.1, 0.5], 10, |_| true), vec![1, 0]);
        assert_eq!(top_k(&[0.1, 0.5, 0.5, 0.2], 2, |i| i != 1), vec![2, 3]);
    }

    #[test]
    fn min_score_and_k_limit_predictions() {
        let options = ClassifyOptions { top_k: 2, min_score: 0.3, ..Default::default() };
        let c = run(&[0.5, 0.25, 0.25], &options).unwrap();
        assert_eq!(c.predictions.len(), 1);
        assert_eq!(c.predictions[0].label, "Rana temporaria");
    }

    #[test]
    fn allow_and_deny_match_labels_and_higher_taxa() {
        let allow_bufo = ClassifyOptions { allow: vec!["bufo".into()], ..Default::default() };
        let c = run(&[0.6, 0.3, 0.1], &allow_bufo).unwrap();
        assert_eq!(c.predictions.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["Bufo bufo"]);
        // Allowed classes fill the top-k even when their scores underflow to 0.
        let allow_two = ClassifyOptions { top_k: 2, allow: vec!["Rana".into()], ..Default::default() };
        let c = run(&[0.0, 0.0, 1.0], &allow_two).unwrap();
        assert_eq!(c.predictions.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["Rana temporaria", "Rana arvalis"]);
        let deny_one = ClassifyOptions { deny: vec!["Rana temporaria".into()], ..Default::default() };
        let c = run(&[0.6, 0.3, 0.1], &deny_one).unwrap();
        assert_eq!(c.predictions[0].label, "Rana arvalis");
        assert_eq!(c.predictions.len(), 2);
    }

    #[test]
    fn names_match_in_any_unicode_form_and_case_and_unknown_names_are_errors() {
        let mut m = BundleMetadata::with_labels(vec!["Éponge".into(), "Ästuar".into(), "p0".into()]);
        m.taxonomy = None;
        let tree = TaxonTree::new(&[]);
        let classify = |options: &ClassifyOptions| classification_from_probabilities(vec![0.5, 0.3, 0.2], &m, &tree, options);
        // Decomposed (as macOS writes names) and upper-case forms of the same labels.
        let deny = ClassifyOptions { deny: vec!["E\u{301}PONGE".into(), "a\u{308}stuar".into()], ..Default::default() };
        assert_eq!(classify(&deny).unwrap().predictions.iter().map(|p| p.label.as_str()).collect::<Vec<_>>(), ["p0"]);
        for options in [
            ClassifyOptions { allow: vec!["Rana".into()], ..Default::default() },
            ClassifyOptions { deny: vec!["p0".into(), "p1".into()], ..Default::default() },
        ] {
            match classify(&options) {
                Err(TaxaError::InvalidOptions(message)) => assert!(message.contains("`Rana`") || message.contains("`p1`"), "{message}"),
                other => panic!("expected InvalidOptions, got {other:?}"),
            }
        }
    }

    #[test]
    fn rollup_uses_the_threshold() {
        let c = run(&[0.45, 0.45, 0.1], &ClassifyOptions::default()).unwrap();
        let r = c.rollup.unwrap();
        assert_eq!((r.rank, r.name.as_str()), (Rank::Genus, "Rana"));
        let strict = ClassifyOptions { rollup_threshold: 0.95, ..Default::default() };
        assert_eq!(run(&[0.45, 0.45, 0.1], &strict).unwrap().rollup, None);
    }

    #[test]
    fn bad_options_and_nan_scores_are_errors() {
        let zero_k = ClassifyOptions { top_k: 0, ..Default::default() };
        assert!(matches!(run(&[1.0, 0.0, 0.0], &zero_k), Err(TaxaError::InvalidOptions(_))));
        let bad_threshold = ClassifyOptions { rollup_threshold: 1.5, ..Default::default() };
        assert!(matches!(run(&[1.0, 0.0, 0.0], &bad_threshold), Err(TaxaError::InvalidOptions(_))));
        assert!(matches!(run(&[f32::NAN, 0.0, 0.0], &ClassifyOptions::default()), Err(TaxaError::Inference(_))));
    }
}
