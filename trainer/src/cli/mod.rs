pub mod bench;
pub mod classify;
pub mod import;
pub mod inspect;
pub mod synth;
taxa_trainer::train_modules!(demo, demo_real, devices, experiment, export, train, train_bench);

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
