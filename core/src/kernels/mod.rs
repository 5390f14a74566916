//! taxa's own kernels for the patterns tract 0.23.9 runs slowly, put into
//! tract's plan at load time as operators of their own ([`ops`]); the
//! bundle stays a standard ONNX file.
//!
//! One file per kernel family, each with an AVX-512, an AVX2+FMA, a NEON
//! and a scalar path chosen at run time ([`simd::Isa`]):
//! - [`depthwise`]: 3×3 and 5×5 depthwise convolution, stride 1 and 2;
//! - [`direct_conv`]: convolution from few input channels (stems, 1×1
//!   expansions);
//! - [`max_pool`]: 2×2 and 3×3 max pooling.
//!
//! Which families are used is measured per model and switched with
//! `TAXA_REWRITES` like the graph rewrites ([`crate::graph_rewrite`]).

pub mod depthwise;
pub mod direct_conv;
pub mod max_pool;
pub mod ops;
pub mod planes;
pub mod simd;

pub use planes::Window;
pub use simd::Isa;

/// An operation with a constant, one of the steps of an [`Epilogue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    Mul,
    Add,
    Max,
    Min,
}

/// What a kernel applies to each output after its bias: up to
/// [`Epilogue::CAPACITY`] element-wise steps with constants, in order, as the
/// graph's following nodes would: ReLU is `Max 0`, ReLU6 `Max 0, Min 6`, and
/// a QDQ model's fake quantisation (`crate::graph_rewrite`) `Mul, Add, Max,
/// Min, Add, Mul`. Each step is computed as its own operation, never fused
/// into one multiply-add, so rounding is the graph's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Epilogue {
    steps: [(Step, f32); Epilogue::CAPACITY],
    len: usize,
}

impl Epilogue {
    pub const CAPACITY: usize = 12;
    pub const NONE: Epilogue = Epilogue { steps: [(Step::Add, 0.0); Epilogue::CAPACITY], len: 0 };

    /// `min(max(x, low), high)`.
    pub fn clamp(low: f32, high: f32) -> Epilogue {
        Epilogue::NONE.then(Step::Max, low).and_then(|e| e.then(Step::Min, high)).expect("within capacity")
    }

    /// This epilogue followed by `step` with `constant`; `None` when full.
    pub fn then(mut self, step: Step, constant: f32) -> Option<Epilogue> {
        if self.len == Self::CAPACITY {
            return None;
        }
        self.steps[self.len] = (step, constant);
        self.len += 1;
        Some(self)
    }

    pub fn steps(&self) -> &[(Step, f32)] {
        &self.steps[..self.len]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The steps on one value (the reference the vector paths must match).
    pub fn apply(&self, mut x: f32) -> f32 {
        for &(step, c) in self.steps() {
            x = match step {
                Step::Mul => x * c,
                Step::Add => x + c,
                Step::Max => x.max(c),
                Step::Min => x.min(c),
            };
        }
        x
    }

    /// The steps on a vector, constants splatted once by the caller.
    #[inline(always)]
    pub(crate) unsafe fn apply_lanes<L: simd::Lanes>(&self, mut v: L::V, constants: &[L::V; Epilogue::CAPACITY]) -> L::V {
        for i in 0..self.len {
            unsafe {
                v = match self.steps[i].0 {
                    Step::Mul => L::mul(v, constants[i]),
                    Step::Add => L::add(v, constants[i]),
                    Step::Max => L::max(v, constants[i]),
                    Step::Min => L::min(v, constants[i]),
                };
            }
        }
        v
    }

    #[inline(always)]
    pub(crate) unsafe fn splat<L: simd::Lanes>(&self) -> [L::V; Epilogue::CAPACITY] {
        unsafe {
            let mut constants = [L::splat(0.0); Epilogue::CAPACITY];
            for i in 0..self.len {
                constants[i] = L::splat(self.steps[i].1);
            }
            constants
        }
    }
}

impl Default for Epilogue {
    fn default() -> Self {
        Epilogue::NONE
    }
}

#[cfg(test)]
mod tests;
