use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;
use taxa_core::{Classification, Classifier, ClassifyOptions, TaxaError};

use crate::ModelArgs;

#[derive(Args)]
pub struct ClassifyArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Images to classify (JPEG, PNG, WebP, GIF, BMP, TIFF).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
    #[command(flatten)]
    pub options: OptionArgs,
    /// Print JSON (one array of results) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Classification options as CLI flags.
#[derive(Args, Debug, Clone)]
pub struct OptionArgs {
    /// How many predictions to show per image.
    #[arg(long, short = 'k', default_value_t = 5)]
    pub top_k: usize,
    /// Hide predictions whose probability (0–1; the text output shows it as
    /// a percentage) is below this.
    #[arg(long, default_value_t = 0.0)]
    pub min_score: f32,
    /// Only consider these labels or higher taxa (repeat or comma-separate;
    /// case-insensitive, any Unicode form). Other classes score 0; the rest
    /// keep their probabilities, which are not renormalised. A name that is
    /// no label or taxon of the model is an error (exit status 2).
    #[arg(long, value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Ignore these labels or higher taxa (repeat or comma-separate;
    /// matched as --allow is). They score 0; the rest are not renormalised.
    #[arg(long, value_delimiter = ',')]
    pub deny: Vec<String>,
    /// Summed probability, in (0, 1], a taxon needs to be reported: the
    /// roll-up reports the deepest taxon, from the kingdom down, that reaches it.
    #[arg(long, default_value_t = 0.8)]
    pub rollup_threshold: f32,
    /// Classify what can be decoded of files that are cut short (marked
    /// "truncated" in the output) instead of refusing them.
    #[arg(long)]
    pub allow_truncated: bool,
}

impl OptionArgs {
    pub fn to_options(&self) -> ClassifyOptions {
        ClassifyOptions {
            top_k: self.top_k,
            min_score: self.min_score,
            allow: self.allow.clone(),
            deny: self.deny.clone(),
            rollup_threshold: self.rollup_threshold,
            allow_truncated: self.allow_truncated,
        }
    }
}

#[derive(Serialize)]
struct ImageResult {
    /// The path as given, as UTF-8; a name that is not UTF-8 (Latin-1 from
    /// old cameras and zips) has U+FFFD for its odd bytes here, and its
    /// exact bytes in `image_bytes`.
    #[serde(serialize_with = "super::serialize_path_lossy")]
    image: PathBuf,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_bytes: Option<Vec<u8>>,
    #[serde(flatten)]
    outcome: Outcome,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Outcome {
    Ok(Classification),
    Err {
        error: String,
        /// `TaxaError::kind()`: a stable name to branch on.
        error_kind: &'static str,
        /// The header's size, for images refused as too large (pixels).
        #[serde(skip_serializing_if = "Option::is_none")]
        width: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        height: Option<u64>,
    },
}

pub fn run(args: ClassifyArgs) -> anyhow::Result<ExitCode> {
    let classifier = args.model.load()?;
    let options = args.options.to_options();
    // A bad option (an --allow or --deny name the model lacks) is a usage error.
    if let Err(error) = classifier.check_options(&options) {
        eprintln!("error: {error}");
        return Ok(ExitCode::from(2));
    }
    // Images at once × threads per image ≤ cores.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let images_at_once = (cores / classifier.threads()).max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(images_at_once).build().context("starting the image threads")?;
    let results = pool.install(|| classify_all(&classifier, &args.images, &options, !args.json));
    let failed = results.iter().filter(|r| matches!(r.outcome, Outcome::Err { .. })).count();
    if args.json {
        super::print_json(&results)?;
    } else {
        for result in &results {
            print_text(result);
        }
    }
    if failed > 0 {
        eprintln!("{failed} of {} images could not be classified", results.len());
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// Classifies in parallel, keeping the input order; a bad image is reported
/// in its slot and the rest go on.
fn classify_all(classifier: &Classifier, images: &[PathBuf], options: &ClassifyOptions, progress: bool) -> Vec<ImageResult> {
    let bar = if progress && images.len() > 20 {
        ProgressBar::new(images.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} images  {per_sec}  eta {eta}").expect("valid template"),
        )
    } else {
        ProgressBar::hidden()
    };
    let results = images
        .par_iter()
        .progress_with(bar.clone())
        .map(|image| ImageResult {
            image: image.clone(),
            image_bytes: super::non_utf8_bytes(image),
            outcome: match classifier.classify_file(image, options) {
                Ok(c) => Outcome::Ok(c),
                Err(e) => {
                    let (width, height) = match &e {
                        TaxaError::ImageTooLarge { width, height, .. } => (Some(*width), Some(*height)),
                        _ => (None, None),
                    };
                    Outcome::Err { error: e.to_string(), error_kind: e.kind(), width, height }
                }
            },
        })
        .collect();
    bar.finish_and_clear();
    results
}

fn print_text(result: &ImageResult) {
    println!("{}", result.image.display());
    match &result.outcome {
        Outcome::Err { error, .. } => println!("  error: {error}"),
        Outcome::Ok(c) => print_classification(c),
    }
}

/// Human-readable top-k and roll-up (also used by `taxa demo`).
pub fn print_classification(c: &Classification) {
    if c.truncated {
        println!("  warning: the file is truncated; only the part that decoded was classified");
    }
    for p in &c.predictions {
        let common = p.taxonomy.common_name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
        println!("  {:>6.2}%  {}{}", p.score * 100.0, p.label, common);
    }
    if let Some(best) = c.predictions.first().filter(|p| !p.is_taxon) {
        println!("  no species recognised (the best answer is `{}`, not a taxon)", best.label);
    }
    match &c.rollup {
        Some(taxon) => println!("  roll-up: {} {} ({:.2})", taxon.rank, taxon.name, taxon.score),
        None => println!("  roll-up: no taxon reaches the threshold"),
    }
}
