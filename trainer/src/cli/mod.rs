pub mod bench;
pub mod classify;
#[cfg(feature = "train")]
pub mod demo;
#[cfg(feature = "train")]
pub mod demo_real;
#[cfg(feature = "train")]
pub mod devices;
#[cfg(feature = "train")]
pub mod experiment;
#[cfg(feature = "train")]
pub mod export;
pub mod inspect;
pub mod synth;
#[cfg(feature = "train")]
pub mod train;
#[cfg(feature = "train")]
pub mod train_bench;

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
