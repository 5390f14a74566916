//! What a model's first output holds: the bundle records it (`taxa.output`),
//! the graph reader infers it for plain files, the classifier applies it.

use serde::{Deserialize, Serialize};

/// What the model's first output holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Unnormalised scores; core applies softmax.
    #[default]
    Logits,
    /// Already a probability distribution.
    Probabilities,
}
