use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use taxa_trainer::synth::{Counts, SynthOptions, write_dataset};

#[derive(Args)]
pub struct SynthArgs {
    /// Output folder (images/, train2019.json, val2019.json).
    #[arg(long, default_value = "out/synth")]
    pub out: PathBuf,
    /// Number of species.
    #[arg(long, default_value_t = 24)]
    pub species: usize,
    /// Photos per species: `long-tail` (--max-images down to --min-images) or
    /// `study`, the study's Table 1 shape (212–500 a species, median 262;
    /// with --species 1010, 268k photos).
    #[arg(long, value_enum, default_value_t = Counts::LongTail)]
    pub counts: Counts,
    /// long-tail: photos of the most common species (the rest follow a long tail).
    #[arg(long, default_value_t = 240)]
    pub max_images: usize,
    /// long-tail: the fewest photos a species gets.
    #[arg(long, default_value_t = 30)]
    pub min_images: usize,
    /// Square photo size in pixels.
    #[arg(long, default_value_t = 96)]
    pub size: u32,
    /// Share of each species' photos in val2019.json (at least one each).
    #[arg(long, default_value_t = 0.1)]
    pub val_fraction: f64,
    /// Seed of the taxonomy, the counts and the photos.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Print a JSON summary.
    #[arg(long)]
    pub json: bool,
}

impl SynthArgs {
    pub fn options(&self) -> SynthOptions {
        SynthOptions {
            species: self.species,
            max_images: self.max_images,
            min_images: self.min_images,
            size: self.size,
            val_fraction: self.val_fraction,
            seed: self.seed,
            counts: self.counts,
        }
    }
}

pub fn run(args: SynthArgs) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let (train, val) = write_dataset(&args.out, &args.options(), !args.json)?;
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let per_second = (train + val) as f64 / seconds;
        super::print_json(&json!({"out": args.out, "species": args.species, "train_images": train, "val_images": val, "seconds": seconds, "images_per_second": per_second}))?;
    } else {
        println!("wrote {} species, {train} training and {val} validation photos to {}", args.species, args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}
