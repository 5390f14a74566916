//! Class pruning and the seeded, stratified train/validation split.

use rand::{SeedableRng, rngs::StdRng, seq::SliceRandom};

use super::{ClassInfo, DataError, RawDataset, Sample};

/// A dataset ready for training: kept classes (re-indexed), the splits, and
/// what pruning removed.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub classes: Vec<ClassInfo>,
    pub train: Vec<Sample>,
    /// Validation images of kept classes.
    pub val: Vec<Sample>,
    /// Labels of the pruned classes (fewer than `min_images` images, none
    /// included).
    pub pruned: Vec<String>,
    /// Labels of the classes with no photo at all (every file in their
    /// folder skipped): among `pruned`, named on their own because the user
    /// put photos there.
    pub empty: Vec<String>,
    /// The loader's skipped files and notes ([`RawDataset`]).
    pub skipped: Vec<(std::path::PathBuf, String)>,
    pub notes: Vec<String>,
    /// Validation images of pruned classes: errors in the complete-set error.
    pub val_pruned: usize,
}

/// Splits (unless the dataset has its own validation set), then drops classes
/// with fewer than `min_images` images (counted over train and val).
pub fn prepare(raw: RawDataset, min_images: usize, val_fraction: f64, seed: u64) -> Result<Prepared, DataError> {
    if !(0.0..1.0).contains(&val_fraction) {
        return Err(DataError::Options(format!("--val-fraction {val_fraction} is outside [0, 1)")));
    }
    let (train, val) = match raw.val {
        Some(val) => (raw.train, val),
        None => stratified_split(raw.train, raw.classes.len(), val_fraction, seed),
    };
    let mut counts = vec![0usize; raw.classes.len()];
    for s in train.iter().chain(&val) {
        counts[s.class] += 1;
    }
    let keep: Vec<bool> = counts.iter().map(|&n| n >= min_images && n > 0).collect();
    let mut new_index = vec![usize::MAX; raw.classes.len()];
    let mut classes = Vec::new();
    let (mut pruned, mut empty) = (Vec::new(), Vec::new());
    for (i, class) in raw.classes.into_iter().enumerate() {
        if keep[i] {
            new_index[i] = classes.len();
            classes.push(class);
        } else {
            if counts[i] == 0 {
                empty.push(class.label.clone());
            }
            pruned.push(class.label);
        }
    }
    if classes.len() < 2 {
        let empty = if empty.is_empty() { String::new() } else { format!(" ({} without any photo taxa reads: {})", empty.len(), empty.join(", ")) };
        return Err(DataError::Options(format!("only {} classes have at least {min_images} images; need 2{empty}", classes.len())));
    }
    let remap = |samples: Vec<Sample>| -> Vec<Sample> {
        samples.into_iter().filter(|s| keep[s.class]).map(|s| Sample { class: new_index[s.class], path: s.path }).collect()
    };
    let val_pruned = val.iter().filter(|s| !keep[s.class]).count();
    Ok(Prepared { classes, train: remap(train), val: remap(val), pruned, empty, val_pruned, skipped: raw.skipped, notes: raw.notes })
}

/// Per class: a seeded shuffle, then `round(n × fraction)` images (at least
/// one when the class has two or more) go to validation.
pub fn stratified_split(samples: Vec<Sample>, classes: usize, fraction: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    let mut by_class: Vec<Vec<Sample>> = vec![Vec::new(); classes];
    for s in samples {
        by_class[s.class].push(s);
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for mut group in by_class {
        group.shuffle(&mut rng);
        let n = group.len();
        let mut n_val = (n as f64 * fraction).round() as usize;
        if fraction > 0.0 && n >= 2 {
            n_val = n_val.max(1);
        }
        let rest = group.split_off(n_val.min(n));
        val.extend(group);
        train.extend(rest);
    }
    (train, val)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn raw(counts: &[usize]) -> RawDataset {
        let classes = (0..counts.len()).map(|i| ClassInfo { label: format!("c{i}"), taxonomy: taxa_core::Taxonomy::species_only(format!("c{i}")) }).collect();
        let train = counts.iter().enumerate().flat_map(|(c, &n)| (0..n).map(move |i| Sample { path: PathBuf::from(format!("{c}/{i}.jpg")), class: c })).collect();
        RawDataset { classes, train, val: None, skipped: Vec::new(), notes: Vec::new() }
    }

    #[test]
    fn split_is_stratified_seeded_and_complete() {
        let (train, val) = stratified_split(raw(&[100, 30, 2]).train, 3, 0.1, 7);
        let count = |v: &[Sample], c| v.iter().filter(|s| s.class == c).count();
        assert_eq!((count(&val, 0), count(&val, 1), count(&val, 2)), (10, 3, 1));
        assert_eq!(train.len() + val.len(), 132);
        let (_, again) = stratified_split(raw(&[100, 30, 2]).train, 3, 0.1, 7);
        assert_eq!(val, again, "same seed, same split");
        let (_, other) = stratified_split(raw(&[100, 30, 2]).train, 3, 0.1, 8);
        assert_ne!(val, other);
    }

    #[test]
    fn pruning_counts_and_reindexes() {
        let p = prepare(raw(&[150, 40, 120, 99]), 100, 0.1, 1).unwrap();
        assert_eq!(p.classes.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["c0", "c2"]);
        assert_eq!(p.pruned, ["c1", "c3"]);
        assert_eq!(p.val_pruned, 4 + 10);
        assert_eq!(p.train.len() + p.val.len(), 270);
        assert!(p.train.iter().chain(&p.val).all(|s| s.class < 2));
        assert!(p.val.iter().filter(|s| s.class == 1).all(|s| s.path.starts_with("2")), "c2 is now class 1");
        // No pruning keeps everything.
        let all = prepare(raw(&[150, 40, 120, 99]), 0, 0.1, 1).unwrap();
        assert_eq!((all.classes.len(), all.val_pruned), (4, 0));
        assert!(prepare(raw(&[10, 10]), 100, 0.1, 1).is_err());
        assert!(prepare(raw(&[10, 10]), 0, 1.5, 1).is_err());
    }
}
