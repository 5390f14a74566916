pub mod bench;
pub mod classify;
pub mod demo;
pub mod demo_real;
pub mod devices;
pub mod experiment;
pub mod export;
pub mod inspect;
pub mod synth;
pub mod train;
pub mod train_bench;

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
