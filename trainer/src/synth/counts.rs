//! How many photos each synthetic species gets.

use super::SynthOptions;

/// How many photos each species gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Counts {
    /// `max_images · (k+1)^(−0.8)`, at least `min_images`: a long tail with rare classes.
    #[default]
    LongTail,
    /// The study's Table 1 shape (268,243 photos of 1,010 species): 500 for
    /// the commonest, 212 for the rarest, median 262 — a short steep head
    /// and a near-linear body. Species are spread evenly over the curve, so
    /// fewer species keep the shape. `max_images`/`min_images` are ignored.
    Study,
}

/// Photos per species, commonest first (see [`Counts`]).
pub fn class_counts(options: &SynthOptions) -> Vec<usize> {
    let n = options.species;
    match options.counts {
        Counts::LongTail => (0..n).map(|k| ((options.max_images as f64) * ((k + 1) as f64).powf(-0.8)).round().max(options.min_images as f64) as usize).collect(),
        // 212 + 100·(1−u) + 188·(1−u)^51 at u = k/(n−1), fitted to the
        // study's total (268,243 at 1,010 species) and median (262).
        Counts::Study => (0..n)
            .map(|k| {
                let rest = 1.0 - k as f64 / (n.max(2) - 1) as f64;
                (212.0 + 100.0 * rest + 188.0 * rest.powi(51)).round() as usize
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_long_tailed_with_rare_classes() {
        let counts = class_counts(&SynthOptions::default());
        assert_eq!(counts[0], 240);
        assert!(counts.windows(2).all(|w| w[0] >= w[1]));
        assert!(counts.iter().filter(|c| **c < 100).count() >= 10);
        assert_eq!(*counts.last().unwrap(), 30);
    }

    #[test]
    fn the_study_shape_matches_table_1() {
        let counts = class_counts(&SynthOptions { species: 1010, counts: Counts::Study, ..Default::default() });
        let mut sorted = counts.clone();
        sorted.sort();
        assert_eq!((sorted[0], sorted[1009]), (212, 500));
        assert!((261..=263).contains(&sorted[505]), "median {}", sorted[505]);
        let total: usize = counts.iter().sum();
        assert!(total.abs_diff(268_243) < 300, "{total} photos");
        // Fewer species keep the shape: 38 give about 10k photos.
        let few: usize = class_counts(&SynthOptions { species: 38, counts: Counts::Study, ..Default::default() }).iter().sum();
        assert!((9_800..10_400).contains(&few), "{few}");
    }
}
