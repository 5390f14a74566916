use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressIterator, ProgressStyle};
use serde_json::json;
use taxa_core::{Classifier, ClassifyOptions, bundle};

use taxa_trainer::demo_model::{demo_species, fit_bundle, render_photo, write_sample_photos};

#[derive(Args)]
pub struct DemoArgs {
    /// Folder for the bundle and the sample photos.
    #[arg(long, default_value = "out/demo")]
    pub out: PathBuf,
    /// Seed for the rendered photos.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Held-out renders per species for the validation error.
    #[arg(long, default_value_t = 30)]
    pub val_per_species: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(args.out.join("photos")).with_context(|| format!("creating {}", args.out.display()))?;
    let (model, mut metadata) = fit_bundle(16, args.seed).context("fitting the demo model")?;
    let species = demo_species();

    // Validation error on held-out renders, through the real classifier.
    let staging = Classifier::new(model.clone(), metadata.clone())?;
    let options = ClassifyOptions::default();
    let (mut top1_errors, mut top5_errors, mut total) = (0usize, 0usize, 0usize);
    let bar = if args.json { ProgressBar::hidden() } else { ProgressBar::new((species.len() * args.val_per_species) as u64) };
    bar.set_style(ProgressStyle::with_template("validating {bar:30} {pos}/{len}").expect("valid template"));
    for (k, s) in species.iter().enumerate() {
        for i in (0..args.val_per_species).progress_with(bar.clone()) {
            let photo = render_photo(s, args.seed + 1_000_000 + (k * 10_000 + i) as u64, 320, 240);
            let result = staging.classify_rgb(&photo, &options)?;
            let rank = result.predictions.iter().position(|p| p.class_index == k);
            top1_errors += (rank != Some(0)) as usize;
            top5_errors += rank.is_none() as usize;
            total += 1;
        }
    }
    bar.finish_and_clear();
    let provenance = metadata.provenance.get_or_insert_with(Default::default);
    provenance.val_top1_error = Some(top1_errors as f64 / total as f64);
    provenance.val_top5_error = Some(top5_errors as f64 / total as f64);

    let bundle_path = args.out.join("demo-species.onnx");
    bundle::write_bundle(&bundle_path, model, &metadata).with_context(|| format!("writing {}", bundle_path.display()))?;

    // Sample field photos, classified from disk with the saved bundle.
    let classifier = Classifier::load(&bundle_path)?;
    let photos_dir = args.out.join("photos");
    let photos = write_sample_photos(&photos_dir, args.seed).with_context(|| format!("writing photos to {}", photos_dir.display()))?;
    let mut results = Vec::new();
    for (file, truth) in photos {
        let result = classifier.classify_file(&file, &options).with_context(|| format!("classifying {}", file.display()))?;
        results.push((file, truth, result));
    }

    if args.json {
        let photos: Vec<_> = results
            .iter()
            .map(|(file, truth, r)| json!({ "image": file, "truth": truth, "predictions": r.predictions, "rollup": r.rollup }))
            .collect();
        super::print_json(&json!({
            "bundle": bundle_path,
            "val_images": total,
            "val_top1_error": provenance_error(&metadata, true),
            "val_top5_error": provenance_error(&metadata, false),
            "photos": photos,
        }))?;
    } else {
        println!("demo bundle:  {}", bundle_path.display());
        println!(
            "validation:   top-1 error {:.3}, top-5 error {:.3} on {total} held-out photos",
            provenance_error(&metadata, true),
            provenance_error(&metadata, false)
        );
        for (file, truth, result) in &results {
            println!("\n{}  (truth: {truth})", file.display());
            super::classify::print_classification(result);
        }
        println!("\nclassify your own: taxa classify --model {} PHOTO.jpg", bundle_path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn provenance_error(metadata: &taxa_core::BundleMetadata, top1: bool) -> f64 {
    let p = metadata.provenance.as_ref().expect("set above");
    if top1 { p.val_top1_error.unwrap_or(f64::NAN) } else { p.val_top5_error.unwrap_or(f64::NAN) }
}
